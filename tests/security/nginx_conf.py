"""A small reader for nginx configuration: directives, blocks, and the proxy headers each location sends.

Enough of nginx's grammar for deploy/nginx.conf (words, quoted strings, `;`, `{ }`, `#` comments), and
nginx's inheritance rule for `proxy_set_header`: a level that sets none inherits all of its parent's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[{};]|[^\s{};"\']+')


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None
    parent: Directive | None = field(default=None, repr=False)

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.block or [] if d.name == name]

    def one(self, name: str) -> Directive:
        found = self.all(name)
        assert len(found) == 1, f"expected one {name!r} in {self.name} {self.args}, found {len(found)}"
        return found[0]

    def walk(self) -> list[Directive]:
        out = []
        for child in self.block or []:
            out.append(child)
            out.extend(child.walk())
        return out


def parse(text: str) -> Directive:
    text = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())
    root = Directive("main", [], [])
    stack = [root]
    words: list[str] = []
    for token in TOKEN.findall(text):
        if token == ";":
            stack[-1].block.append(Directive(words[0], words[1:], None, stack[-1]))  # type: ignore[union-attr]
            words = []
        elif token == "{":
            block = Directive(words[0], words[1:], [], stack[-1])
            stack[-1].block.append(block)  # type: ignore[union-attr]
            stack.append(block)
            words = []
        elif token == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        else:
            words.append(token.strip("\"'"))
    assert len(stack) == 1 and not words, "unbalanced braces"
    return root


def proxy_headers(location: Directive) -> dict[str, str]:
    """The headers nginx sends upstream from `location` (lower-case names), after inheritance."""
    level: Directive | None = location
    while level is not None:
        own = level.all("proxy_set_header")
        if own:
            return {d.args[0].lower(): " ".join(d.args[1:]) for d in own}
        level = level.parent
    return {}


def proxied_locations(root: Directive) -> list[Directive]:
    return [d for d in root.walk() if d.name == "location" and d.all("proxy_pass")]


def forwarding_problems(root: Directive) -> list[str]:
    """What a location forwards wrongly, for an app checking Origin against Host and reading X-Forwarded-*."""
    problems = []
    for location in proxied_locations(root):
        where = f"location {' '.join(location.args)}"
        headers = proxy_headers(location)
        if headers.get("host") not in ("$http_host", "$host:$server_port"):
            problems.append(f"{where}: Host {headers.get('host')!r} drops the port the browser used")
        if headers.get("x-forwarded-for") != "$proxy_add_x_forwarded_for":
            problems.append(f"{where}: X-Forwarded-For not forwarded")
        if headers.get("x-forwarded-proto") != "$scheme":
            problems.append(f"{where}: X-Forwarded-Proto not forwarded")
        if headers.get("x-forwarded-host") not in ("$http_host", "$host:$server_port"):
            problems.append(f"{where}: X-Forwarded-Host not forwarded with the port")
    return problems
