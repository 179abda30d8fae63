"""mkdocs hooks.

- The configuration reference is generated at build time from conf/ and the typed schema
  (``msm.confdoc.reference_markdown``), so it cannot drift from the configs it documents.
- Folders of the repository that hold results (``PUBLISHED``) appear on the site as they are in the
  repository, their figures included: ``results/cheese_cpu/RESULTS.md`` is read in one place, and its
  relative links work on the site and on a code host alike.
"""

from pathlib import Path

from mkdocs.structure.files import File

from msm.confdoc import reference_markdown

REPO = Path(__file__).resolve().parents[1]
PLACEHOLDER = "<!-- generated: msm.confdoc.reference_markdown -->"
PUBLISHED = {"results/cheese_cpu": "experiments/cheese_cpu"}  # repository folder -> where it sits on the site
PUBLISHED_SUFFIXES = (".md", ".png", ".svg", ".csv")


def on_files(files, config):
    for src, dest in PUBLISHED.items():
        if not (REPO / src).is_dir():
            raise FileNotFoundError(f"docs/hooks.py publishes {src}, which is not in the repository")
        for path in sorted((REPO / src).rglob("*")):
            if path.is_file() and path.suffix in PUBLISHED_SUFFIXES:
                uri = f"{dest}/{path.relative_to(REPO / src).as_posix()}"
                files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, reference_markdown())
    return markdown
