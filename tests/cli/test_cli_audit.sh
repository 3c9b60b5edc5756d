#!/usr/bin/env bash
# mnzone-enroll audit: tests come with the command.
echo "1..0 # SKIP audit not written yet"
