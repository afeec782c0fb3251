#!/usr/bin/python3
"""A help2man --include file with one section per subcommand, made from the program itself.

    man_subcommands.py PROGRAM OUTPUT

help2man reads only PROGRAM --help, so the man page would list the subcommands' names and
nothing of their options. This runs PROGRAM SUB --help for every subcommand that --help lists
(CLI11's layout: a description line, "Usage: ...", then "Positionals:", "Options:" and
"Example:" blocks of two-space-indented entries) and writes them as a SUBCOMMANDS section in
roff: the usage, each positional and option as a tagged paragraph, and the example. Run at
build time (cmake/ManPages.cmake), so the page cannot drift from the program.
"""

import re
import subprocess
import sys

ENTRY = re.compile(r"^  (\S.*?)(?:\s{2,}(\S.*))?$")  # "  --since UINT    Only messages ..."
CONTINUATION = re.compile(r"^\s{3,}(\S.*)$")  # a description wrapped onto its own line


def help_text(program, *args):
    result = subprocess.run([program, *args, "--help"], capture_output=True, text=True,
                            check=True)
    return result.stdout


def subcommand_names(top_help):
    """The names under "Subcommands:" in the top-level --help."""
    names, inside = [], False
    for line in top_help.splitlines():
        if line == "Subcommands:":
            inside = True
        elif inside and not line.strip():
            break
        elif inside and ENTRY.match(line):
            names.append(ENTRY.match(line).group(1))
    return names


def roff(text):
    """Plain text as roff: backslashes and hyphens escaped, no line read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def entry_tag(name):
    """"--since UINT:NONNEGATIVE" -> the option names in bold, the value type in italics."""
    names, _, value = name.partition(" ")
    tag = "\\fB%s\\fR" % roff(names)
    return tag + (" \\fI%s\\fR" % roff(value) if value else "")


def blocks(help_lines):
    """(heading, lines) for each "Heading:" block of a subcommand's --help."""
    heading, lines = None, []
    for line in help_lines:
        if re.match(r"^\S.*:$", line):
            if heading:
                yield heading, lines
            heading, lines = line[:-1], []
        elif heading and line.strip():
            lines.append(line)
    if heading:
        yield heading, lines


def entries(lines):
    """(name, description) per entry; a description may be wrapped onto the next line."""
    out = []
    for line in lines:
        continued = CONTINUATION.match(line)
        if continued and out:
            out[-1][1].append(continued.group(1))
            continue
        match = ENTRY.match(line)
        out.append((match.group(1), [match.group(2)] if match.group(2) else []))
    return [(name, " ".join(description)) for name, description in out]


def section(program, name):
    text = help_text(program, name).splitlines()
    description = text[0]
    usage = next(line for line in text if line.startswith("Usage: "))[len("Usage: "):]
    out = ['.SS "%s %s"' % (roff(program.rsplit("/", 1)[-1]), roff(name)),
           roff(description), ".PP", "\\fBUsage:\\fR %s" % roff(usage)]
    for heading, lines in blocks(text[text.index("Usage: " + usage) + 1:]):
        out.append(".PP")
        out.append("\\fI%s:\\fR" % roff(heading))
        if heading.startswith("Example"):
            out += [".RS", ".nf"] + [roff(line.strip()) for line in lines] + [".fi", ".RE"]
            continue
        for tag, description in entries(lines):
            out += [".TP", entry_tag(tag), roff(description)]
    return out


def main():
    program, output = sys.argv[1], sys.argv[2]
    names = subcommand_names(help_text(program))
    if not names:
        sys.exit("%s: no subcommands in %s --help" % (sys.argv[0], program))
    out = ["[SUBCOMMANDS]",
           "Each subcommand's own options follow its name; the options above may come before "
           "or after it. \\fB%s\\fR \\fISUBCOMMAND\\fR \\fB\\-\\-help\\fR prints the same."
           % roff(program.rsplit("/", 1)[-1])]
    for name in names:
        out += section(program, name)
    with open(output, "w") as page:
        page.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
