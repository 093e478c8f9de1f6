# test_badinput.sh - hrauditd meets bad input: the network catalogue and
# malformed DICOM.  Sourced by run.sh; defines functions only.
# shellcheck shell=bash
# shellcheck disable=SC2154 # T, TEST_DIR, HRAUDITD, ... are set by run.sh
