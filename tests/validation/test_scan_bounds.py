"""What a package can make a scan say is bounded: names shown cut, problems counted past a cap.

Member names, their number and what input.xml names are the pull request's
choice, and every problem becomes a finding in status.yaml.
"""

from __future__ import annotations

from appsource_helpers import appsource_package, input_xml, make_zip

from controller.validation.appsource import check_package
from controller.validation.zipscan import (
    EICAR,
    MAX_PROBLEMS,
    NAME_CHARS,
    ScanProblem,
    capped,
    scan_bytes,
    shown_name,
)


def test_a_short_name_is_shown_whole() -> None:
    assert shown_name("p.zip!solution.zip!evil.dll") == "p.zip!solution.zip!evil.dll"


def test_a_long_name_keeps_its_start_and_its_end() -> None:
    name = "p.zip!" + "a" * 10_000 + "!evil.dll"
    shown = shown_name(name)
    assert len(shown) == NAME_CHARS
    assert shown.startswith("p.zip!aaa")
    assert shown.endswith("aaa!evil.dll")
    assert "…" in shown


def test_a_member_named_at_length_is_reported_with_a_bounded_message() -> None:
    data = make_zip({"x" * 60_000 + "/virus.txt": EICAR})
    [problem] = scan_bytes("p.zip", data)
    assert problem.code == "VirusFound"
    assert problem.message.startswith("p.zip!xxx")
    assert "/virus.txt: the virus scan found" in problem.message
    assert len(problem.message) < NAME_CHARS + 100


def test_past_the_cap_the_other_problems_are_counted_in_one() -> None:
    data = make_zip({f"m{n}": EICAR for n in range(MAX_PROBLEMS + 30)})
    problems = scan_bytes("p.zip", data)
    assert len(problems) == MAX_PROBLEMS + 1
    assert [p.code for p in problems[:MAX_PROBLEMS]] == ["VirusFound"] * MAX_PROBLEMS
    summary = problems[-1]
    assert summary.code == "PackageMoreProblems"
    assert "30 more problems" in summary.message
    assert "VirusFound" in summary.message
    assert not summary.warning  # an error was left out: the summary is one


def test_a_summary_of_warnings_only_is_a_warning() -> None:
    problems = [ScanProblem("PackageHiddenMember", f"m{n}", warning=True) for n in range(60)]
    assert capped(problems, "p.zip")[-1] == ScanProblem(
        "PackageMoreProblems",
        "p.zip: 10 more problems not listed (PackageHiddenMember); fix those above and scan again",
        warning=True,
    )


def test_at_the_cap_nothing_is_summarised() -> None:
    problems = [ScanProblem("VirusFound", f"m{n}") for n in range(MAX_PROBLEMS)]
    assert capped(problems, "p.zip") == problems


def test_an_input_xml_with_thousands_of_locales_says_a_bounded_amount() -> None:
    logo = "L" * 2_000 + ".png"
    one = input_xml(logo=logo)
    start, end = one.index(b"<PackageLocale"), one.index(b"</Locales>")
    locales = one[start:end] * 400  # 400 locales, each naming a missing 2 KB logo name
    package = appsource_package(replace={"input.xml": one[:start] + locales + one[end:]})
    problems = check_package(package)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1].code == "PackageMoreProblems"
    assert "350 more problems" in problems[-1].message
    assert sum(len(p.message) for p in problems) < 20_000
