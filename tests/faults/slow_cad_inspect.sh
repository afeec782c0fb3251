#!/bin/sh
# The fault runner's external program (tests/faults/run_faults.py): the real cad-inspect, after a
# pause, so that a job is still queued or running when the runner kills the app.
# Run as: slow_cad_inspect.sh SECONDS CAD_INSPECT {input} {workdir}
# The app runs programs with a sanitized environment: every path here is absolute.
delay=$1
program=$2
shift 2
/bin/sleep "$delay"
exec "$program" --input "$1" --out "$2"
