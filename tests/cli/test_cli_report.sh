#!/usr/bin/env bash
# mnzone-enroll report: tests come with the command.
echo "1..0 # SKIP report not written yet"
