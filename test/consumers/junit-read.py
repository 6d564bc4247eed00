# Reads a JUnit XML file with junitparser (Debian's python3-junitparser, the
# reader CI tools such as the GitHub action publish-unit-test-result build on)
# and prints what it understood as JSON: per suite its counts, per case its
# outcome kind, type, message and body text, and its captured output.
import json
import sys

from junitparser import Error, Failure, JUnitXml, Skipped

xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        results = []
        for r in case.result:
            kind = "failure" if isinstance(r, Failure) else "error" if isinstance(r, Error) else "skipped" if isinstance(r, Skipped) else "other"
            results.append({"kind": kind, "type": r.type, "message": r.message, "text": r.text})
        cases.append(
            {
                "classname": case.classname,
                "name": case.name,
                "time": case.time,
                "passed": case.is_passed,
                "skipped": case.is_skipped,
                "results": results,
                "systemOut": case.system_out,
                "systemErr": case.system_err,
            }
        )
    suites.append(
        {
            "name": suite.name,
            "tests": suite.tests,
            "failures": suite.failures,
            "errors": suite.errors,
            "skipped": suite.skipped,
            "cases": cases,
        }
    )
print(json.dumps({"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "suites": suites}))
