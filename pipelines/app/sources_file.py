"""Adding a source to sources.yaml as a person would: new lines after the last entry, every other
byte of the file as it was.

Text is inserted rather than the document re-emitted (ruamel.yaml's round trip keeps comments but
writes the whole file again in its own indentation and quoting, so a pull request adding one
entry would touch lines it did not mean to): the maintainer's comments, flow-style one-liners,
blank lines and commented-out examples stay exactly where they were. The result is parsed back
and must hold the old data plus the entry, and nothing else.
"""

from __future__ import annotations

import yaml

from pipelines.errors import ConfigError

SourceEntry = dict


def dump_entry(entry: SourceEntry) -> str:
    """A source as a block-style list item, keys in the order given: `- id: …\\n  kind: …`."""
    return yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000).rstrip()


def append_source(text: str, entry: SourceEntry, note: str | None = None) -> str:
    """`text` (a sources.yaml) with `entry` added at the end of its `sources:` list, preceded by
    `# note` when given."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        before = yaml.safe_load(text) if root is not None else None
    except yaml.YAMLError as exc:
        raise ConfigError([f"sources.yaml cannot be read: {exc}"]) from None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise ConfigError(["sources.yaml: expected a mapping with a 'sources:' list at the top level"])
    key, sources = _sources_node(root)
    comment = [f"# {' '.join(note.split())}"] if note else []

    if key is None:
        new_text = _insert_lines(text, len(text), "sources:\n" + _indented(comment + dump_entry(entry).splitlines(), 2))
    elif _is_null(sources):
        # `sources:` with no list yet (or `null`, `~`): the entry starts a block list under it.
        text = text[:sources.start_mark.index] + text[sources.end_mark.index:]
        block = _indented(comment + dump_entry(entry).splitlines(), key.start_mark.column + 2)
        new_text = _insert_lines(text, _line_end(text, key.end_mark.index), block)
    elif not isinstance(sources, yaml.SequenceNode):
        raise ConfigError(["sources.yaml: 'sources' must be a list"])
    elif sources.flow_style:
        # `sources: [...]`: the entry joins the list in flow style, before its closing bracket.
        flow = yaml.safe_dump(entry, sort_keys=False, allow_unicode=True, default_flow_style=True, width=1000).strip()
        close = sources.end_mark.index - 1
        new_text = text[:close] + (", " if sources.value else "") + flow + text[close:]
    else:
        block = _indented(comment + dump_entry(entry).splitlines(), sources.start_mark.column)
        new_text = _insert_lines(text, _line_end(text, _content_end(sources.value[-1])), block)

    after = yaml.safe_load(new_text)
    expected = dict(before or {})
    expected["sources"] = list((before or {}).get("sources") or []) + [entry]
    if after != expected:
        raise ConfigError(["sources.yaml: adding the entry would change more than the sources list; add it by hand"])
    return new_text


def _sources_node(root):
    if root is None:
        return None, None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "sources":
            return key, value
    return None, None


def _is_null(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _content_end(node) -> int:
    """Where a node's own text ends: a block collection's end mark lies past the comments and blank
    lines that follow it, so follow its last child down to the last scalar or flow collection."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node.end_mark.index


def _line_end(text: str, index: int) -> int:
    """The index just past the end of the line holding `index` (its newline included)."""
    newline = text.find("\n", index)
    return len(text) if newline == -1 else newline + 1


def _insert_lines(text: str, at: int, block: str) -> str:
    """`block` as whole lines at `at`, the start of a line (or the end of the text)."""
    head = text[:at]
    if head and not head.endswith("\n"):
        head += "\n"
    return head + block + "\n" + text[at:]


def _indented(lines: list[str], column: int) -> str:
    return "\n".join(" " * column + line for line in lines)
