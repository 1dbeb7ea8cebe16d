"""The README is the entry and docs/ holds the rest: the README stays short, links every file of docs/, and
every relative link of the README and of docs/*.md leads to a file (and heading) that exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))

FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)


def links(path: Path) -> list[str]:
    """The targets of the Markdown links of ``path``, outside code blocks and code spans."""
    text = CODE_SPAN.sub("", FENCE.sub("", path.read_text()))
    return LINK.findall(text)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``path``: lower case, punctuation dropped, spaces as hyphens,
    a repeated heading suffixed -1, -2, ..."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def broken(path: Path, target: str) -> str | None:
    """Why a relative link of ``path`` does not resolve, or None when it does (or is not relative)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
        return None  # http://, mailto: ...: not a file of this repository
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    file_part, _, anchor = target.partition("#")
    destination = (path.parent / file_part).resolve() if file_part else path
    if not destination.exists():
        return f"{name}: {target} (no such file)"
    if anchor and destination.suffix == ".md" and anchor not in anchors(destination):
        return f"{name}: {target} (no such heading)"
    return None


def test_the_readme_is_an_entry_under_250_lines():
    text = README.read_text()
    assert 0 < text.count("\n") < 250
    for kept in ("## Two commands", "`make demo`", "`make test`", "## Configuration", "## Where each capability lives"):
        assert kept in text


def test_every_docs_file_is_linked_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(README)}
    assert len(DOCS) >= 10  # the sections moved out of the README, and the guides
    missing = [str(doc.relative_to(ROOT)) for doc in DOCS if doc.resolve() not in linked]
    assert missing == [], f"add a link to each from the README's Documentation table: {missing}"


def test_every_relative_link_of_the_readme_and_docs_resolves():
    checked = 0
    problems = []
    for path in [README, *DOCS]:
        for target in links(path):
            checked += 1
            problem = broken(path, target)
            if problem:
                problems.append(problem)
    assert checked > len(DOCS)
    assert problems == []


def test_a_missing_file_or_heading_is_reported(tmp_path):
    """The checker itself: a link to a file or heading that is not there is caught, a good one is not."""
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n## Two commands (`make demo`)\n\n[a](other.md) [b](page.md#nowhere) [c](#page)\n")
    assert [broken(page, target) is None for target in links(page)] == [False, False, True]
    assert anchors(page) == {"page", "two-commands-make-demo"}
