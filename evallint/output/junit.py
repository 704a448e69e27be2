"""JUnit XML, as CI systems (GitLab, Jenkins, Azure) read test reports: a test suite per file, a failing case per finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import groupby

from evallint.output.concise import location_prefix
from evallint.types import Diagnostic


def render(diagnostics: list[Diagnostic], options) -> str:
    root = ET.Element("testsuites", name="evallint", tests=str(max(len(diagnostics), 1)), failures=str(len(diagnostics)), errors="0")
    if not diagnostics:
        suite = ET.SubElement(root, "testsuite", name="evallint", tests="1", failures="0", errors="0")
        ET.SubElement(suite, "testcase", name="No errors found", classname="evallint")
    for path, group in groupby(diagnostics, key=lambda d: d.path):
        items = list(group)
        suite = ET.SubElement(root, "testsuite", name=path, tests=str(len(items)), failures=str(len(items)), errors="0")
        for d in items:
            case = ET.SubElement(
                suite,
                "testcase",
                name=f"org.evallint.{d.code}",
                classname=path,
                file=path,
                line=str(d.location.row),
                column=str(d.location.column),
            )
            failure = ET.SubElement(case, "failure", message=d.message, type=d.code)
            failure.text = f"{location_prefix(d)}: {d.code} {d.message}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
