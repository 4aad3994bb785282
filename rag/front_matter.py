"""YAML front matter at the top of a Markdown page (`---` ... `---`), read with PyYAML's safe
loader into plain string values."""

from __future__ import annotations

import yaml

__all__ = ["MAX_FRONT_MATTER_CHARS", "parse_front_matter"]

MAX_FRONT_MATTER_CHARS = 16 * 1024  # a longer leading block is not front matter
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split a leading `---` YAML block off `text`: its top-level scalar values as strings.

    Parsed with PyYAML's safe loader, within MAX_FRONT_MATTER_CHARS (a block whose closing
    `---` or `...` line is not within that many characters is left as text). Lists and
    nested mappings are dropped; a block that is not a mapping, or not valid YAML, gives no
    values (the block is still not page text). Without a closing line the text is returned
    unchanged.
    """
    if not text.startswith("---"):
        return {}, text
    first_end = text.find("\n")
    if first_end < 0 or text[:first_end].strip() != "---":
        return {}, text
    head = text[first_end + 1 : first_end + 1 + MAX_FRONT_MATTER_CHARS + 4]
    lines = head.split("\n")
    complete = len(head) < MAX_FRONT_MATTER_CHARS + 4  # else the last piece may be cut short
    offset = first_end + 1
    for line in lines if complete else lines[:-1]:
        if line.rstrip() in ("---", "..."):
            break
        offset += len(line) + 1
    else:
        return {}, text
    block = text[first_end + 1 : offset]
    body = text[offset:].split("\n", 1)[1] if "\n" in text[offset:] else ""
    try:
        loaded = yaml.load(block, Loader=_YAML_LOADER)
    except yaml.YAMLError:
        return {}, body
    if not isinstance(loaded, dict):
        return {}, body
    meta = {
        str(key): str(value).strip() if not isinstance(value, bool) else str(value).lower()
        for key, value in loaded.items()
        if value is not None and not isinstance(value, (dict, list, set, tuple))
    }
    return meta, body
