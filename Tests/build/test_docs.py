"""The directive reference (docs/directives.md) covers the module's command table: every directive
nginx accepts has exactly one section there, in nginx's style (Syntax, Default, Context, text,
an example), with the contexts the table gives it; no section describes a directive the module
does not have; and no other page has a directive's Syntax block. Needs no build and no nginx."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE_C = ROOT / "nginx-module" / "ngx_http_backend_jwt_module.c"
REFERENCE = ROOT / "docs" / "directives.md"
CONTEXTS = {"NGX_HTTP_MAIN_CONF": "http", "NGX_HTTP_SRV_CONF": "server", "NGX_HTTP_LOC_CONF": "location"}


def command_table():
    """{directive: [contexts] or None when the table's flags could not be read}."""
    text = MODULE_C.read_text()
    table = re.search(r"ngx_command_t\s+ngx_http_backend_jwt_commands\[\]\s*=\s*\{(.*?)ngx_null_command",
                      text, re.S)
    assert table, f"no command table in {MODULE_C}"
    macros = dict(re.findall(r"#define\s+(NGX_HTTP_BJWT_\w+)\s+\\?\s*\(([^)]*)\)", text))
    entries = re.findall(r'ngx_string\("(\w+)"\)\s*,\s*([^,]+),'       # { ngx_string("name"), type, ...
                         r'|NGX_HTTP_BJWT_COMMAND\("(\w+)",\s*([^)]+)\)', table.group(1))
    commands = {}
    for name, flags in [(a or c, b or d) for a, b, c, d in entries]:
        words = re.findall(r"\w+", flags)
        words = [w for word in words for w in re.findall(r"\w+", macros.get(word, word))]
        contexts = [CONTEXTS[w] for w in CONTEXTS if w in words]
        commands[name] = contexts or None
    return commands


def sections():
    """{heading: text} of the reference's `### name` sections."""
    parts = re.split(r"(?m)^### ", REFERENCE.read_text())[1:]
    found = {}
    for part in parts:
        title, _, body = part.partition("\n")
        assert title.strip() not in found, f"two sections for {title.strip()}"
        found[title.strip()] = body.split("\n## ")[0]
    return found


def test_the_table_is_read():
    commands = command_table()
    assert "backend_jwt" in commands and "backend_jwt_verify" in commands, commands
    assert commands["backend_jwt_jwks"] == ["location"]
    assert commands["backend_jwt_jwks_key"] == ["http"]


def test_every_directive_has_its_section_in_nginx_style():
    documented = sections()
    problems = []
    for name, contexts in command_table().items():
        body = documented.get(name)
        if body is None:
            problems.append(f"{name}: no section '### {name}' in {REFERENCE.name}")
            continue
        syntax = re.search(rf"^\s+Syntax:\s+{re.escape(name)}( |;)", body, re.M)
        default = re.search(r"^\s+Default:\s+\S", body, re.M)
        context = re.search(r"^\s+Context:\s+(.*)$", body, re.M)
        if not (syntax and default and context):
            problems.append(f"{name}: no Syntax/Default/Context lines")
            continue
        if contexts is not None and [c.strip() for c in context.group(1).split(",")] != contexts:
            problems.append(f"{name}: Context {context.group(1)!r}, the command table: {', '.join(contexts)}")
        prose = [line for line in body.splitlines() if line and not line.startswith((" ", "`", "|"))]
        if not prose:
            problems.append(f"{name}: no description")
        if "```nginx" not in body:
            problems.append(f"{name}: no example")
    assert problems == [], "\n".join(problems)


def test_every_section_is_a_directive_of_the_module():
    commands = command_table()
    stale = [t for t in sections() if t.startswith("backend_jwt") and t not in commands]
    assert stale == [], f"sections for directives the module does not have: {stale}"


def test_every_directive_is_documented_once():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for name in command_table():
        found = [p.name for p in pages
                 for _ in re.finditer(rf"^\s+Syntax:\s+{re.escape(name)}( |;)", p.read_text(), re.M)]
        assert found == [REFERENCE.name], f"{name}: Syntax blocks in {found}"


def slug(heading):
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_pages_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    anchors = {p.resolve(): {slug(h) for h in re.findall(r"(?m)^#+ (.*)$", p.read_text())} for p in pages}
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page.resolve()
            if not file.exists():
                broken.append(f"{page.name}: {target}: no such file")
            elif anchor and file in anchors and anchor not in anchors[file]:
                broken.append(f"{page.name}: {target}: no such heading")
    assert broken == [], "\n".join(broken)
