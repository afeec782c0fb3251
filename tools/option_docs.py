#!/usr/bin/python3
"""The option reference in docs/options.md, generated from the programs' own table.

Each daemon's options are one table in its code (CLI11: name, default, help); --print-config
prints it, which is also how etc/ is made. This turns that output into Markdown tables between
the markers in docs/options.md, and checks that every other option table in docs/ (a row
`| `--name` | DEFAULT | ... |`) names an option that exists with the default it has.

    tools/option_docs.py --build-dir build --write    regenerate docs/options.md
    tools/option_docs.py --build-dir build --check    exit 1 (and say where) when anything drifted
"""

import argparse
import glob
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "docs", "options.md")
PROGRAMS = {"roompush-sidecar": "ws-sidecar/roompush-sidecar",
            "roompush-fcgi": "fcgi-app/roompush-fcgi"}
# Defaults the docs may spell in words rather than as the program prints them.
SPELLED = {"off": "false", "on": "true", "none": ""}


def options_of(build_dir, program):
    """[(name, default, help)] in the program's order, from --print-config."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROOMPUSH_")}
    printed = subprocess.run([os.path.join(build_dir, PROGRAMS[program]), "--print-config"],
                             capture_output=True, text=True, check=True, env=environment).stdout
    options, help_lines = [], []
    for line in printed.splitlines():
        match = re.match(r"^#?([a-z][a-z0-9-]*)=(.*)$", line)
        if match:
            default = match.group(2).strip('"')
            options.append((match.group(1), default, " ".join(help_lines)))
            help_lines = []
        elif line.startswith("# ") and not line.startswith("# " + program):
            help_lines.append(line[2:].strip())
        elif not line.strip():
            help_lines = []
    return options


def table(options):
    rows = ["| option | default | what it sets |", "| --- | --- | --- |"]
    for name, default, help_text in options:
        shown = "`%s`" % default if default else "none"
        rows.append("| `--%s` | %s | %s |" % (name, shown, help_text.replace("|", "\\|")))
    return "\n".join(rows) + "\n"


def generated(build_dir, text):
    for program in PROGRAMS:
        begin = "<!-- generated: %s options -->\n" % program
        end = "<!-- end of generated %s options -->" % program
        head, found, rest = text.partition(begin)
        if not found:
            raise SystemExit("docs/options.md has no line %r" % begin.strip())
        _, found, tail = rest.partition(end)
        if not found:
            raise SystemExit("docs/options.md has no line %r" % end)
        text = head + begin + table(options_of(build_dir, program)) + end + tail
    return text


def stale_rows(build_dir):
    """Rows of option tables elsewhere in docs/ whose option or default is not the program's."""
    known = {}
    for program in PROGRAMS:
        for name, default, _ in options_of(build_dir, program):
            known.setdefault(name, set()).add(default)
    problems = []
    for path in sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))):
        if path == DOC:
            continue
        with open(path) as doc:
            for number, line in enumerate(doc, 1):
                match = re.match(r"^\| `--([a-z][a-z0-9-]*)` \| ([^|]*) \|", line)
                if not match:
                    continue
                name, default = match.group(1), match.group(2).strip().strip("`")
                where = "%s:%d" % (os.path.relpath(path, REPO), number)
                if name not in known:
                    problems.append("%s: --%s is no option of the daemons" % (where, name))
                    continue
                default = SPELLED.get(default, default)
                if not any(default == value or default.startswith(value + " ") for value in known[name]) \
                        and not default.isupper() and default != "none" \
                        and not default.startswith("HOSTNAME"):
                    problems.append("%s: --%s defaults to %s, not %s"
                                    % (where, name, " or ".join(sorted(known[name])), default))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()
    with open(DOC) as doc:
        current = doc.read()
    wanted = generated(os.path.abspath(args.build_dir), current)
    if args.write:
        with open(DOC, "w") as doc:
            doc.write(wanted)
        return 0
    problems = stale_rows(os.path.abspath(args.build_dir))
    if wanted != current:
        problems.insert(0, "docs/options.md is not what the programs print: "
                           "run tools/option_docs.py --build-dir BUILD --write")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
