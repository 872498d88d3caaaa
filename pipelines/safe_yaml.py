"""The one YAML loader the hub uses, for sources.yaml, aliases.yaml, Markdown front matter,
Jekyll's _config.yml and publiccode.yml alike.

YAML's own safe loader still trusts the size of what it is given. Anchors and aliases let a few
hundred bytes stand for billions of nodes (the hub walks the data as a tree, so it pays for every
one), and libyaml composes nested collections by recursion, so deep enough nesting crashes the
process. This loader composes the document itself, event by event, and refuses before building
anything past the limits:

- a document larger than its caller's byte limit;
- nesting deeper than MAX_DEPTH collections, counting the nesting an alias brings with it;
- aliases that expand to more than ALIAS_EXPANSION times the nodes the document writes out
  itself, or ALIAS_NODE_FLOOR nodes if that is more, and an alias to the collection holding it.

Every refusal, and every YAML error, is a ConfigError of one line: "NAME:LINE: what is wrong".
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent, StreamEndEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from pipelines.errors import ConfigError

MAX_DEPTH = 64
# What aliases may add, in nodes: a shared block merged into every entry (`<<: *defaults`) adds a
# few times what each entry writes; a bomb adds exponentially more than the few lines it writes.
ALIAS_EXPANSION = 10
ALIAS_NODE_FLOOR = 10_000

try:  # libyaml's C parser reads the events; composing them here keeps libyaml's recursion out
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser as _ParserOnly
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, _ParserOnly):  # type: ignore[no-redef]
        def __init__(self, stream):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            _ParserOnly.__init__(self)


class YAMLRefused(yaml.YAMLError):
    """The document is past one of the loader's limits; `problem_mark` says where."""

    def __init__(self, problem: str, mark):
        self.problem, self.problem_mark = problem, mark
        super().__init__(problem)


class _BoundedComposer:
    """PyYAML's composer made iterative and counting as it goes: the nesting open at each point
    and, for every anchor, how many nodes and levels of nesting its node stands for. (Path
    resolvers, which the hub never registers, are not consulted.)"""

    def get_single_node(self) -> yaml.Node | None:
        self.get_event()                                   # STREAM-START
        document = None if self.check_event(StreamEndEvent) else self.compose_document()
        if not self.check_event(StreamEndEvent):
            event = self.get_event()
            raise ComposerError("expected a single document in the stream", document.start_mark,
                                "but found another document", event.start_mark)
        self.get_event()                                   # STREAM-END
        return document

    def compose_document(self) -> yaml.Node:
        self.get_event()                                   # DOCUMENT-START
        anchors: dict[str, yaml.Node] = {}
        sizes: dict[str, tuple[int, int]] = {}             # anchor -> (nodes, nesting) once closed
        # One entry per open collection: [node, anchor, nodes beneath, deepest nesting beneath, key].
        open_: list[list] = []
        written = expanded = 0                             # nodes written out; nodes aliases add
        get_event, resolve = self.get_event, self.resolve
        while True:
            event = get_event()
            kind = type(event)
            if kind is ScalarEvent:
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(ScalarNode, event.value, event.implicit)
                node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                nodes, nesting = 1, 0
                written += 1
                if event.anchor is not None:
                    self._anchor(event, node, anchors)
                    sizes[event.anchor] = (1, 0)
            elif kind is SequenceStartEvent or kind is MappingStartEvent:
                if len(open_) >= MAX_DEPTH:
                    raise YAMLRefused(f"YAML nesting deeper than {MAX_DEPTH} levels", event.start_mark)
                node_kind = SequenceNode if kind is SequenceStartEvent else MappingNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(node_kind, None, event.implicit)
                node = node_kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
                written += 1
                if event.anchor is not None:
                    self._anchor(event, node, anchors)
                open_.append([node, event.anchor, 0, 0, None])
                continue
            elif kind is AliasEvent:
                node, (nodes, nesting) = self._alias(event, anchors, sizes, len(open_))
                expanded += nodes
                if expanded > ALIAS_NODE_FLOOR and expanded > ALIAS_EXPANSION * written:
                    budget = max(ALIAS_NODE_FLOOR, ALIAS_EXPANSION * written)
                    raise YAMLRefused(f"YAML aliases expand to more than {budget:,} nodes (at alias *{event.anchor})",
                                      event.start_mark)
            else:                                          # SEQUENCE-END or MAPPING-END
                node, anchor, beneath, deepest, _ = open_.pop()
                node.end_mark = event.end_mark
                nodes, nesting = 1 + beneath, 1 + deepest
                if anchor is not None:
                    sizes[anchor] = (nodes, nesting)
            if not open_:
                get_event()                                # DOCUMENT-END
                return node
            parent = open_[-1]
            parent[2] += nodes
            if nesting > parent[3]:
                parent[3] = nesting
            if type(parent[0]) is SequenceNode:
                parent[0].value.append(node)
            elif parent[4] is None:
                parent[4] = node
            else:
                parent[0].value.append((parent[4], node))
                parent[4] = None

    @staticmethod
    def _alias(event, anchors: dict, sizes: dict, open_levels: int) -> tuple[yaml.Node, tuple[int, int]]:
        anchor = event.anchor
        if anchor not in anchors:
            raise ComposerError(None, None, f"found undefined alias {anchor!r}", event.start_mark)
        if anchor not in sizes:
            raise YAMLRefused(f"YAML alias *{anchor} refers to a collection that contains it", event.start_mark)
        if open_levels + sizes[anchor][1] > MAX_DEPTH:
            raise YAMLRefused(f"YAML nesting deeper than {MAX_DEPTH} levels (through alias *{anchor})",
                              event.start_mark)
        return anchors[anchor], sizes[anchor]

    @staticmethod
    def _anchor(event, node: yaml.Node, anchors: dict) -> None:
        if event.anchor in anchors:
            raise ComposerError(None, None, f"found duplicate anchor {event.anchor!r}", event.start_mark)
        anchors[event.anchor] = node


class _BoundedConstructor(SafeConstructor):
    def construct_object(self, node, deep=False):
        # A scalar the safe constructor cannot make a value of (a timestamp with month 13, an
        # integer of 5,000 digits) raises ValueError or OverflowError, without saying where.
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(None, None, f"cannot read value: {exc}", node.start_mark) from None


class BoundedLoader(_Parser, _BoundedComposer, _BoundedConstructor, Resolver):
    """A safe loader (no Python objects) whose composer refuses documents past the limits."""

    def __init__(self, stream):
        _Parser.__init__(self, stream)
        _BoundedConstructor.__init__(self)
        Resolver.__init__(self)

    # CParser brings libyaml's own (recursive) composer: the bounded one must be used instead.
    get_single_node = _BoundedComposer.get_single_node


class PageLoader(BoundedLoader):
    """The bounded loader for a page's front matter, where a site's own tags (`!md |` in a CMS's
    files) mark how the site renders a value: the value is read as if untagged."""


def _untagged(loader: PageLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if not node.style:   # a plain scalar (None, or "" from libyaml's parser)
        # A plain scalar is typed as YAML would type it untagged: `draft: !x false` is false, not "false".
        tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        return loader.construct_object(yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark))
    return loader.construct_scalar(node)


PageLoader.add_multi_constructor("!", _untagged)


def load_yaml_tree(text: str, name: str, *, max_bytes: int, first_line: int = 1,
                   loader_class: type[BoundedLoader] = BoundedLoader) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and the data built from it, from one parse.

    `name` is how errors name the document; `first_line` is the line of the document's first
    line in that file (front matter starts below its `---`)."""
    size = len(text.encode("utf-8", errors="surrogatepass")) if len(text) * 4 > max_bytes else len(text)
    if size > max_bytes:
        raise document_too_large(name, max_bytes, first_line)
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise ConfigError([_problem(exc, name, first_line)]) from None
    finally:
        loader.dispose()
    return root, data


def document_too_large(name: str, max_bytes: int, first_line: int = 1) -> ConfigError:
    """The refusal of a document past `max_bytes`, for a caller that knows its size before reading it."""
    return ConfigError([f"{name}:{first_line}: YAML document larger than {max_bytes:,} bytes"])


def load_yaml(text: str, name: str, *, max_bytes: int, first_line: int = 1, page: bool = False) -> Any:
    """The data of one YAML document, or ConfigError naming NAME:LINE and what is wrong. A page's
    front matter (`page`) may carry the site's own tags; configuration may not."""
    return load_yaml_tree(text, name, max_bytes=max_bytes, first_line=first_line,
                          loader_class=PageLoader if page else BoundedLoader)[1]


def _problem(exc: yaml.YAMLError, name: str, first_line: int) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = first_line + (mark.line if mark else 0)
    if isinstance(exc, YAMLRefused):
        return f"{name}:{line}: {exc.problem}"
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{name}:{line}: YAML syntax error: {problem}"
