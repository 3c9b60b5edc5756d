#!/usr/bin/env bash
# mnzone-enroll check: tests come with the command.
echo "1..0 # SKIP check not written yet"
