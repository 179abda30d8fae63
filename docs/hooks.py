"""mkdocs hooks: the configuration reference is generated at build time from conf/ and the typed schema
(``msm.confdoc.reference_markdown``), so it cannot drift from the configs it documents."""

from msm.confdoc import reference_markdown

PLACEHOLDER = "<!-- generated: msm.confdoc.reference_markdown -->"


def on_page_markdown(markdown, page, config, files):
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, reference_markdown())
    return markdown
