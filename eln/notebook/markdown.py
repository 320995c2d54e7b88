"""An entry's Markdown as safe HTML: CommonMark (tables and strikethrough too) with raw HTML
escaped, record labels turned into links, attachments put in place, then sanitised (nh3, an
allow-list of tags and attributes). Nothing it gives makes the browser fetch anything from
another site, and it holds no script and no style."""
from __future__ import annotations

from urllib.parse import unquote

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

from eln.notebook.models import LABEL_IN_TEXT

ATTACHMENT_SCHEME = "attachment:"

TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
        "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title", "class"}, "img": {"src", "alt", "title"}, "ol": {"start"}, "code": {"class"}}


def labels_in(text: str) -> list[str]:
    """The record labels in a text, each once, in order; those in code are left out."""
    seen = {}
    for token in PARSER.parse(text or "", {}):
        for child in token.children or ():
            if child.type == "text":
                for label in LABEL_IN_TEXT.findall(child.content):
                    seen.setdefault(label, None)
    return list(seen)


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _link(href: str, text: str, css: str) -> list[Token]:
    opening = Token("link_open", "a", 1)
    opening.attrSet("href", href)
    opening.attrSet("class", css)
    return [opening, _text(text), Token("link_close", "a", -1)]


def _record_links(state) -> None:
    """Labels in text (not in code, not already in a link) become links to the records the
    reader may see (``env["links"]``: label -> address)."""
    links = state.env.get("links") or {}
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children, depth = [], 0
        for token in block.children:
            if token.type == "link_open":
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            if token.type != "text" or depth or not links:
                children.append(token)
                continue
            position = 0
            for match in LABEL_IN_TEXT.finditer(token.content):
                url = links.get(match[1])
                if url is None:
                    continue
                if match.start() > position:
                    children.append(_text(token.content[position:match.start()]))
                children.extend(_link(url, match[1], "record-link"))
                position = match.end()
            if position == 0:
                children.append(token)
            elif position < len(token.content):
                children.append(_text(token.content[position:]))
        block.children = children


def _attachments(state) -> None:
    """attachment:NAME in an image or a link becomes the attachment's address
    (``env["attachments"]``: name -> address); an image from anywhere else than this site
    becomes a link to it, so the page never fetches from elsewhere."""
    attachments = state.env.get("attachments") or {}
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children = []
        for token in block.children:
            attribute = "src" if token.type == "image" else "href" if token.type == "link_open" else None
            target = token.attrGet(attribute) if attribute else None
            if target and target.startswith(ATTACHMENT_SCHEME):
                name = unquote(target[len(ATTACHMENT_SCHEME):])
                if name in attachments:
                    token.attrSet(attribute, attachments[name])
                elif token.type == "image":
                    children.append(_text(f"[{name}: no such attachment]"))
                    continue
                else:
                    token.attrSet(attribute, "#missing-attachment")
            elif token.type == "image" and target and not (target.startswith("/") and not target.startswith("//")):
                alt = "".join(child.content for child in token.children or ()) or target
                children.extend(_link(target, alt, "outside-image"))
                continue
            children.append(token)
        block.children = children


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    parser.core.ruler.push("record_links", _record_links)
    parser.core.ruler.push("attachments", _attachments)
    return parser


PARSER = _parser()


def render(text: str, *, links: dict[str, str] | None = None, attachments: dict[str, str] | None = None) -> str:
    """Safe HTML of ``text``: ``links`` maps labels to addresses (only those the reader may see),
    ``attachments`` maps attached file names to their addresses."""
    html = PARSER.render(text or "", {"links": links or {}, "attachments": attachments or {}})
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer", strip_comments=True)
