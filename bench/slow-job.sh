#!/bin/sh
# The program of the jobs-2apps scenario: a job whose program takes 200 ms (a CAD tool is the
# heavy part of a job), so that what the scenario measures is how many run at once.
sleep 0.2
echo '{"ok":true}'
