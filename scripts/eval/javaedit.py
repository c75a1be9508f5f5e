"""Edits of Java programs that plagiarists and obfuscators make, on tree-sitter's syntax tree.

Each edit takes a program's text and a seeded ``random.Random`` and returns the edited text; the result
is meant to stay a valid program (it compiles for this project's task programs).  The edits:

* :func:`layout`: comments removed (and a header comment added), indentation unit, brace style and blank
  lines changed;
* :func:`rename`: every identifier the program declares (classes, methods, fields, parameters, locals)
  renamed consistently, except ``main``; library objects (a ``Scanner``) only when asked;
* :func:`hoist_literals`: numbers and strings of method bodies moved into ``static final`` constants;
* :func:`split_declarations`: ``int a = 1, b = 2;`` split, ``T x = e;`` into ``T x; x = e;``, adjacent
  declarations of one type merged;
* :func:`imports`: ``java.util.Scanner`` written out instead of imported, or imports made ``.*``;
* :func:`reorder_members` and :func:`reorder_statements`: members shuffled, adjacent independent
  statements swapped;
* :func:`extract_methods`: loops and ifs moved into helper methods (their free locals as parameters);
* :func:`change_control`: ``for`` to ``while``, ``if``/``else`` inverted, ``x = x + e`` to ``x += e``;
* :func:`static_imports` and :func:`add_package`: ``Math.max`` through ``import static``, a package line;
* :func:`declarations_to_top`, :func:`add_final`, :func:`qualify_members`, :func:`qualify_names`: locals
  declared at the top of their method, ``final`` locals and parameters, ``this.x`` / ``Main.X``,
  ``java.lang.System``;
* :func:`inline_methods` (:func:`inline_all`) and :func:`shuffle_statements`: helpers called once
  inlined, every block's statements in a random order that keeps their dependencies;
* :func:`modify_expressions`, :func:`add_statements`, :func:`add_helpers`, :func:`reword_strings`:
  ``a < b`` -> ``b > a``, ``x++`` -> ``x = x + 1`` and the like, statements and helpers that change
  nothing, messages reworded;
* :func:`restructure_control`: index and iterator loops for loops over arrays and collections, ternaries
  and ``switch`` as ``if``, ``if (a && b)`` nested, ``while`` as ``for``.

The denser edits take a ``share``: the probability of editing each site they apply to.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator

import tree_sitter_java
from tree_sitter import Language, Node, Parser

PARSER = Parser(Language(tree_sitter_java.language()))
LIBRARY_TYPES = {"Scanner", "Random", "StringBuilder", "BufferedReader"}
LIBRARY_NAMES = ["sc", "in", "scanner", "input", "kb", "keyboard", "scan", "reader", "console", "stdin"]
WORDS = """value item data temp count total result number amount index pos current next first second
left right low high size len list arr table map store entry key flag done limit step acc sum avg res buf
text line word token part piece node elem cell row col grid mat vec calc helper handler worker proc run
check make build show print compute solve find get put add update process""".split()  # noqa: SIM905
RESERVED = set(
    """abstract assert boolean break byte case catch char class const continue default do double else enum
    extends final finally float for goto if implements import instanceof int interface long native new
    package private protected public return short static strictfp super switch synchronized this throw
    throws transient try void volatile while true false null var record yield main args String Object
    System Math Integer Double Long Character Boolean""".split()  # noqa: SIM905
)

Edit = tuple[int, int, bytes]


def parse(text: str) -> Node:
    return PARSER.parse(text.encode()).root_node


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def apply(text: str, edits: list[Edit]) -> str:
    """Apply byte-range replacements (non-overlapping; later ones win a tie by being skipped)."""
    raw = text.encode()
    out: list[bytes] = []
    pos = 0
    for a, b, rep in sorted(edits, key=lambda e: (e[0], e[1])):
        if a < pos:
            continue
        out += [raw[pos:a], rep]
        pos = b
    out.append(raw[pos:])
    return b"".join(out).decode()


def txt(n: Node | None) -> str:
    return n.text.decode() if n is not None and n.text is not None else ""


def line_indent(raw: bytes, at: int) -> bytes:
    start = raw.rfind(b"\n", 0, at) + 1
    m = re.match(rb"[ \t]*", raw[start:at])
    return m.group(0) if m else b""


def top_class(root: Node) -> Node | None:
    for n in root.named_children:
        if n.type in ("class_declaration", "record_declaration", "enum_declaration"):
            return n
    return None


def main_class(root: Node) -> Node | None:
    """The class holding ``main`` (the first class if none does)."""
    for n in walk(root):
        if n.type == "method_declaration" and txt(n.child_by_field_name("name")) == "main":
            p = n.parent
            while p is not None and p.type != "class_declaration":
                p = p.parent
            if p is not None and p.parent is not None and p.parent.type == "program":
                return p
    return top_class(root)


def fresh_names(rng: random.Random, style: str, taken: set[str]) -> Callable[[str, str], str]:
    """A name maker: ``make(old, kind)`` gives a new name in ``style`` (words, short, obfuscated)."""
    counter = [0]

    def make(old: str, kind: str) -> str:
        while True:
            counter[0] += 1
            if style == "short":
                base = "abcdefghijkmnpqrstuvwxyz"[counter[0] % 24] + (
                    str(counter[0] // 24) if counter[0] >= 24 else ""
                )
            elif style == "obfuscated":
                base = "".join(rng.choice("lI1O0") for _ in range(rng.randint(3, 6)))
                base = rng.choice("lIO_") + base
            else:
                a, b = rng.choice(WORDS), rng.choice(WORDS)
                base = a + b[0].upper() + b[1:] if rng.random() < 0.6 else a + str(rng.randint(1, 9))
            if kind == "class":
                base = base[0].upper() + base[1:]
                if style == "obfuscated":
                    base = "C" + base
            if base not in taken and base not in RESERVED:
                taken.add(base)
                return base

    return make


# -- declarations ------------------------------------------------------------------------------------


def declared(root: Node) -> dict[str, str]:
    """Names the program declares -> kind (class, method, field, local)."""
    out: dict[str, str] = {}
    for n in walk(root):
        name = n.child_by_field_name("name")
        if n.type in ("class_declaration", "record_declaration", "enum_declaration", "interface_declaration"):
            out[txt(name)] = "class"
        elif n.type == "method_declaration" and txt(name) != "main":
            out.setdefault(txt(name), "method")
        elif n.type == "variable_declarator":
            kind = "field" if n.parent is not None and n.parent.type == "field_declaration" else "local"
            out.setdefault(txt(name), kind)
        elif n.type in ("formal_parameter", "catch_formal_parameter", "enhanced_for_statement"):
            nm = name if name is not None else next((c for c in n.children if c.type == "identifier"), None)
            out.setdefault(txt(nm), "local")
        elif n.type == "enum_constant":
            out.setdefault(txt(name), "field")
        elif n.type == "lambda_expression":
            ps = n.child_by_field_name("parameters")
            if ps is not None and ps.type == "identifier":
                out.setdefault(txt(ps), "local")
            elif ps is not None:
                for c in walk(ps):
                    if c.type == "identifier":
                        out.setdefault(txt(c), "local")
    out.pop("", None)
    out.pop("main", None)
    return out


def library_objects(root: Node) -> set[str]:
    """Variables whose declared type is a library class such as ``Scanner``."""
    out: set[str] = set()
    for n in walk(root):
        if n.type in ("local_variable_declaration", "field_declaration"):
            t = txt(n.child_by_field_name("type")).split(".")[-1]
            if t in LIBRARY_TYPES:
                for d in n.named_children:
                    if d.type == "variable_declarator":
                        out.add(txt(d.child_by_field_name("name")))
    return out


def rename(text: str, rng: random.Random, style: str = "words", library: bool = False,
           only: set[str] | None = None) -> str:  # fmt: skip
    """Rename declared identifiers consistently (``library``: also Scanner-like objects, only them when
    ``only`` is the empty set ... ``only`` restricts the renamed names)."""
    root = parse(text)
    decl = declared(root)
    lib = library_objects(root)
    taken = {txt(n) for n in walk(root) if n.type in ("identifier", "type_identifier")}
    make = fresh_names(rng, style, taken)
    mapping: dict[str, str] = {}
    for name, kind in decl.items():
        if only is not None and name not in only:
            continue
        if name in lib:
            if library:
                choices = [x for x in LIBRARY_NAMES if x != name and x not in taken]
                mapping[name] = rng.choice(choices) if choices else make(name, kind)
                taken.add(mapping[name])
            continue
        mapping[name] = make(name, kind)
    edits: list[Edit] = []
    for n in walk(root):
        if n.type not in ("identifier", "type_identifier") or txt(n) not in mapping:
            continue
        p = n.parent
        name = txt(n)
        if p is not None and p.type == "method_invocation" and p.child_by_field_name("name") == n:
            obj = p.child_by_field_name("object")
            if decl.get(name) != "method" and obj is not None:
                continue
        is_field = p is not None and p.type == "field_access" and p.child_by_field_name("field") == n
        if is_field and decl.get(name) not in ("field", "local"):
            continue
        if p is not None and p.type == "scoped_type_identifier" and n != p.named_children[-1]:
            continue  # java.util.X: a package part
        edits.append((n.start_byte, n.end_byte, mapping[name].encode()))
    return apply(text, edits)


# -- layout ------------------------------------------------------------------------------------------


def strip_comments(text: str) -> str:
    root = parse(text)
    edits = [
        (n.start_byte, n.end_byte, b"") for n in walk(root) if n.type in ("line_comment", "block_comment")
    ]
    out = apply(text, edits)
    before, after = text.split("\n"), out.split("\n")
    if len(before) != len(after):
        return "\n".join(x.rstrip() for x in after if x.strip())
    return "\n".join(a.rstrip() for b, a in zip(before, after, strict=True) if a.strip() or not b.strip())


HEADERS = [
    "// Assignment {n} - submitted by student {m}",
    "/* Programming lab {n}\n * Author: student {m}\n */",
    "// CS1 homework {n}",
    "// Exercise {n}: see the handout for the task description",
]


def layout(text: str, rng: random.Random) -> str:
    """Comments removed, a header comment added, indentation, braces and blank lines changed."""
    lines = strip_comments(text).split("\n")
    unit = rng.choice(["  ", "   ", "\t", "        ", "  "])
    allman = rng.random() < 0.5
    blank = rng.choice(["none", "keep", "more"])
    out: list[str] = []
    for line in lines:
        stripped = line.lstrip()
        if not stripped:
            if blank == "keep":
                out.append("")
            continue
        width = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
        ind = unit * (width // 4) + " " * (width % 4)
        if allman and stripped.endswith("{") and len(stripped) > 1 and '"' not in stripped[-3:]:
            out += [ind + stripped[:-1].rstrip(), ind + "{"]
        elif allman and stripped.startswith("} else"):
            out += [ind + "}", ind + stripped[1:].lstrip()]
        else:
            out.append(ind + stripped)
        if blank == "more" and stripped.endswith(";") and rng.random() < 0.3:
            out.append("")
    header = rng.choice(HEADERS).format(n=rng.randint(1, 12), m=rng.randint(100, 999))
    return header + "\n" + "\n".join(out).rstrip() + "\n"


# -- literals, declarations, imports -----------------------------------------------------------------

LITERALS = {
    "decimal_integer_literal": "int",
    "decimal_floating_point_literal": "double",
    "string_literal": "String",
    "character_literal": "char",
}


def _constant_name(lit: str, kind: str, taken: set[str], rng: random.Random) -> str:
    if kind == "String":
        words = re.findall(r"[A-Za-z]+", lit)[:3]
        base = "_".join(w.upper() for w in words) or "TEXT"
        base = ("MSG_" + base) if rng.random() < 0.5 else base
    elif kind == "char":
        base = "CH"
    else:
        base = rng.choice(["LIMIT", "FACTOR", "VALUE", "NUM", "K", "CONST"])
    if not base[0].isalpha():
        base = "C_" + base
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


def hoist_literals(text: str, rng: random.Random, share: float = 0.8, small: bool = False) -> str:
    """Move literals of method bodies into ``private static final`` constants of the main class (``0``
    and ``1`` too when ``small``)."""
    root = parse(text)
    cls = main_class(root)
    if cls is None:
        return text
    body = cls.child_by_field_name("body")
    if body is None:
        return text
    taken = {txt(n) for n in walk(root) if n.type == "identifier"}
    consts: dict[str, tuple[str, str]] = {}
    edits: list[Edit] = []
    for n in walk(root):
        kind = LITERALS.get(n.type)
        if kind is None or rng.random() > share:
            continue
        lit = txt(n)
        if kind in ("int", "double") and lit in ("0", "1", "0.0", "1.0") and not small:
            continue
        p = n.parent
        inside_method = False
        while p is not None:
            if p.type in ("switch_label", "annotation", "field_declaration", "enum_constant"):
                break
            if p.type in ("method_declaration", "constructor_declaration"):
                inside_method = True
                break
            p = p.parent
        if not inside_method:
            continue
        if lit not in consts:
            consts[lit] = (_constant_name(lit, kind, taken, rng), kind)
        edits.append((n.start_byte, n.end_byte, consts[lit][0].encode()))
    if not consts:
        return text
    raw = text.encode()
    ind = line_indent(raw, body.named_children[0].start_byte) if body.named_children else b"    "
    decls = b"".join(
        ind + f"private static final {kind} {name} = {lit};\n".encode()
        for lit, (name, kind) in consts.items()
    )
    nl = raw.find(b"\n", body.start_byte)
    edits.append((nl + 1, nl + 1, decls + b"\n"))
    return apply(text, edits)


def split_declarations(text: str, rng: random.Random) -> str:
    """Split multi-declarator and initialised local declarations; merge adjacent ones of one type."""
    root = parse(text)
    raw = text.encode()
    edits: list[Edit] = []
    for n in walk(root):
        if n.type != "local_variable_declaration" or (n.parent is not None and n.parent.type != "block"):
            continue
        typ = txt(n.child_by_field_name("type"))
        decls = [d for d in n.named_children if d.type == "variable_declarator"]
        mods = "".join(txt(c) + " " for c in n.children if c.type == "modifiers")
        ind = line_indent(raw, n.start_byte).decode()
        if len(decls) > 1:
            parts = [f"{mods}{typ} {txt(d)};" for d in decls]
            edits.append((n.start_byte, n.end_byte, ("\n" + ind).join(parts).encode()))
        elif len(decls) == 1 and not mods and decls[0].child_by_field_name("value") is not None:
            value = decls[0].child_by_field_name("value")
            name = txt(decls[0].child_by_field_name("name"))
            if (
                value is not None
                and value.type != "array_initializer"
                and "[" not in txt(decls[0]).split("=")[0]
                and rng.random() < 0.5
            ):
                rep = f"{typ} {name};\n{ind}{name} = {txt(value)};"
                edits.append((n.start_byte, n.end_byte, rep.encode()))
    if edits:
        return apply(text, edits)
    return merge_declarations(text, rng)


def merge_declarations(text: str, rng: random.Random) -> str:
    root = parse(text)
    edits: list[Edit] = []
    for blk in walk(root):
        if blk.type != "block":
            continue
        kids = blk.named_children
        i = 0
        while i + 1 < len(kids):
            a, b = kids[i], kids[i + 1]
            if (
                a.type == b.type == "local_variable_declaration"
                and txt(a.child_by_field_name("type")) == txt(b.child_by_field_name("type"))
                and not any(c.type == "modifiers" for c in (*a.children, *b.children))
                and rng.random() < 0.7
            ):
                names = {
                    txt(d.child_by_field_name("name"))
                    for d in a.named_children
                    if d.type == "variable_declarator"
                }
                if not any(c.type == "identifier" and txt(c) in names for c in walk(b)):
                    body = (
                        txt(a)[:-1]
                        + ", "
                        + ", ".join(txt(d) for d in b.named_children if d.type == "variable_declarator")
                    )
                    edits.append((a.start_byte, b.end_byte, (body + ";").encode()))
                    i += 2
                    continue
            i += 1
    return apply(text, edits)


def imports(text: str, rng: random.Random) -> str:
    """Write library classes out in full (``java.util.Scanner``) or import whole packages (``.*``)."""
    root = parse(text)
    imps = [n for n in root.named_children if n.type == "import_declaration" and "static" not in txt(n)]
    if not imps:
        return text
    edits: list[Edit] = []
    if rng.random() < 0.5:
        full = {}
        for imp in imps:
            name = txt(imp).removeprefix("import").strip().rstrip(";").strip()
            if not name.endswith("*"):
                full[name.rsplit(".", 1)[1]] = name
                edits.append((imp.start_byte, imp.end_byte + 1, b""))
        for n in walk(root):
            if n.type == "type_identifier" and txt(n) in full:
                p = n.parent
                if p is not None and p.type == "scoped_type_identifier" and n != p.named_children[0]:
                    continue
                edits.append((n.start_byte, n.end_byte, full[txt(n)].encode()))
            elif n.type == "identifier" and txt(n) in full and n.parent is not None:
                p = n.parent  # Arrays.sort(...), Collections.sort(...)
                if p.type in ("method_invocation", "field_access") and p.child_by_field_name("object") == n:
                    edits.append((n.start_byte, n.end_byte, full[txt(n)].encode()))
    else:
        pkgs = sorted({txt(i).removeprefix("import").strip().rsplit(".", 1)[0] for i in imps})
        edits.append(
            (imps[0].start_byte, imps[-1].end_byte, "\n".join(f"import {p}.*;" for p in pkgs).encode())
        )
    return apply(text, edits)


# -- reordering --------------------------------------------------------------------------------------


def _members(body: Node) -> list[Node]:
    """A class body's members or a block's statements: its named children but comments."""
    return [c for c in body.named_children if c.type not in ("line_comment", "block_comment")]


def reorder_members(text: str, rng: random.Random) -> str:
    """Shuffle the methods (and nested classes) of every class; fields stay first, in order."""
    root = parse(text)
    raw = text.encode()
    edits: list[Edit] = []
    for cls in walk(root):
        if cls.type != "class_declaration":
            continue
        body = cls.child_by_field_name("body")
        if body is None:
            continue
        members = _members(body)
        movable = [
            m
            for m in members
            if m.type in ("method_declaration", "class_declaration", "constructor_declaration")
        ]
        if len(movable) < 2 or any(m.type == "class_declaration" for m in movable if m.parent != body):
            continue
        order = movable[:]
        rng.shuffle(order)
        if order == movable:
            order.reverse()
        # each movable member replaced, in place, by the text of the member now at its position
        for old, new in zip(movable, order, strict=True):
            edits.append((old.start_byte, old.end_byte, raw[new.start_byte : new.end_byte]))
        break  # nested classes move as a whole with the outer class's members
    return apply(text, edits)


def _ids(n: Node) -> set[str]:
    return {txt(c) for c in walk(n) if c.type == "identifier"}


def _writes(n: Node) -> set[str]:
    out: set[str] = set()
    for c in walk(n):
        if c.type == "variable_declarator":
            out.add(txt(c.child_by_field_name("name")))
        elif c.type == "assignment_expression":
            left = c.child_by_field_name("left")
            if left is not None:
                out |= _ids(left)
        elif c.type == "update_expression":
            out |= _ids(c)
    return out


def _pure(n: Node) -> bool:
    return n.type in ("local_variable_declaration", "expression_statement") and not any(
        c.type in ("method_invocation", "return_statement") for c in walk(n)
    )


def reorder_statements(text: str, rng: random.Random) -> str:
    """Swap adjacent statements that neither read nor write what the other writes (and call nothing)."""
    root = parse(text)
    raw = text.encode()
    edits: list[Edit] = []
    for blk in walk(root):
        if blk.type != "block":
            continue
        kids = _members(blk)
        i = 0
        while i + 1 < len(kids):
            a, b = kids[i], kids[i + 1]
            if _pure(a) and _pure(b) and rng.random() < 0.8:
                wa, wb = _writes(a), _writes(b)
                if not (wa & (_ids(b) | wb)) and not (wb & (_ids(a) | wa)):
                    edits.append((a.start_byte, a.end_byte, raw[b.start_byte : b.end_byte]))
                    edits.append((b.start_byte, b.end_byte, raw[a.start_byte : a.end_byte]))
                    i += 2
                    continue
            i += 1
    return apply(text, edits)


# -- extracting methods ------------------------------------------------------------------------------


def _ancestors(n: Node) -> list[Node]:
    out = []
    p = n.parent
    while p is not None:
        out.append(p)
        p = p.parent
    return out


def _dedent(block: str, ind: str) -> str:
    lines = block.split("\n")
    rest = [x for x in lines[1:] if x.strip()]
    cut = min((len(x) - len(x.lstrip()) for x in rest), default=0)
    first_ind = max(0, cut - 4)
    out = [ind + lines[0].strip()] + [ind + x[first_ind:] if x.strip() else "" for x in lines[1:]]
    return "\n".join(out)


def extract_methods(text: str, rng: random.Random, count: int = 1) -> str:
    """Move up to ``count`` top-level loops / ifs of method bodies into new helper methods (a block that
    assigns one local of its method gets it as a parameter and returns it)."""
    for _ in range(count):
        text = _extract_one(text, rng)
    return text


def _extract_one(text: str, rng: random.Random) -> str:
    root = parse(text)
    raw = text.encode()
    kinds = ("for_statement", "enhanced_for_statement", "while_statement", "if_statement", "do_statement")
    cands: list[tuple[Node, Node, list[tuple[str, str]], tuple[str, str] | None]] = []
    for meth in walk(root):
        if meth.type not in ("method_declaration", "constructor_declaration"):
            continue
        body = meth.child_by_field_name("body")
        if body is None:
            continue
        scope: list[tuple[Node, str, str]] = []  # (declaration, name, type)
        uninitialised: set[str] = set()
        params = meth.child_by_field_name("parameters")
        for p in params.named_children if params is not None else []:
            if p.type == "formal_parameter":
                scope.append((body, txt(p.child_by_field_name("name")), txt(p.child_by_field_name("type"))))
        for d in walk(body):
            if d.type == "local_variable_declaration" and d.parent is not None:
                for v in d.named_children:
                    if v.type == "variable_declarator":
                        dims = txt(v.child_by_field_name("dimensions"))
                        t = txt(d.child_by_field_name("type")) + dims
                        scope.append((d, txt(v.child_by_field_name("name")), t))
                        if v.child_by_field_name("value") is None:
                            uninitialised.add(txt(v.child_by_field_name("name")))
        for d in walk(body):
            if d.type == "enhanced_for_statement":
                t = txt(d.child_by_field_name("type")) + txt(d.child_by_field_name("dimensions"))
                scope.append((d, txt(d.child_by_field_name("name")), t))
        # statements at any depth (a nested loop too), each block's own
        for st in [c for c in walk(body) if c.parent is not None and c.parent.type == "block" and c != body]:
            if st.type not in kinds or any(
                c.type in ("return_statement", "yield_statement") for c in walk(st)
            ):
                continue
            if st.type == "if_statement" and any(
                c.type in ("break_statement", "continue_statement") for c in walk(st)
            ):
                continue
            used = [txt(c) for c in walk(st) if c.type == "identifier"]
            inner = {txt(c.child_by_field_name("name")) for c in walk(st) if c.type == "variable_declarator"}
            inner |= {
                txt(c.child_by_field_name("name")) for c in walk(st) if c.type == "enhanced_for_statement"
            }
            visible: dict[str, str] = {}
            for d, name, typ in scope:
                if d.start_byte < st.start_byte and (
                    d is body
                    or (d.type == "enhanced_for_statement" and d in _ancestors(st))
                    or (
                        d.type != "enhanced_for_statement"
                        and d.parent is not None
                        and d.parent in _ancestors(st)
                    )
                ):
                    visible[name] = typ
            free: list[tuple[str, str]] = []
            for name in used:
                if name in visible and name not in inner and all(name != f for f, _ in free):
                    free.append((name, visible[name]))
            direct = {
                txt(c.child_by_field_name("left")) for c in walk(st) if c.type == "assignment_expression"
            }
            direct |= {txt(c).strip("+-") for c in walk(st) if c.type == "update_expression"}
            written = [f for f in free if f[0] in direct]
            if len(written) > 1 or any(w in uninitialised for w, _ in written):
                continue
            cands.append((meth, st, free, written[0] if written else None))
    if not cands:
        return text
    meth, st, free, out = rng.choice(cands)
    mods = next((txt(c) for c in meth.children if c.type == "modifiers"), "")
    static = "static " if "static" in mods.split() else ""
    throws = next((" " + txt(c) for c in meth.children if c.type == "throws"), "")
    taken = {txt(n) for n in walk(root) if n.type == "identifier"}
    name = fresh_names(rng, "words", taken)("", "method")
    ind = line_indent(raw, meth.start_byte).decode()
    params = ", ".join(f"{t} {n}" for n, t in free)
    body = _dedent(txt(st), ind + "    ")
    args = ", ".join(n for n, _ in free)
    if out is None:  # the block only reads the method's locals
        helper = f"\n\n{ind}private {static}void {name}({params}){throws} {{\n{body}\n{ind}}}"
        call = f"{name}({args});"
    else:  # it assigns one of them: passed in, returned, assigned back
        ret = f"{ind}    return {out[0]};"
        helper = f"\n\n{ind}private {static}{out[1]} {name}({params}){throws} {{\n{body}\n{ret}\n{ind}}}"
        call = f"{out[0]} = {name}({args});"
    return apply(
        text, [(st.start_byte, st.end_byte, call.encode()), (meth.end_byte, meth.end_byte, helper.encode())]
    )


# -- control structures ------------------------------------------------------------------------------


def change_control(text: str, rng: random.Random, share: float = 0.8) -> str:
    """``for`` loops as ``while`` loops, ``if``/``else`` inverted, compound assignments toggled."""
    root = parse(text)
    raw = text.encode()
    edits: list[Edit] = []
    decl_count: dict[str, int] = {}
    for n in walk(root):
        if n.type == "variable_declarator":
            k = txt(n.child_by_field_name("name"))
            decl_count[k] = decl_count.get(k, 0) + 1
    for n in walk(root):
        if rng.random() > share:
            continue
        if n.type == "for_statement":
            init = n.child_by_field_name("init")
            cond = n.child_by_field_name("condition")
            upd = [c for c in n.children_by_field_name("update")]
            body = n.child_by_field_name("body")
            if init is None or cond is None or len(upd) != 1 or body is None or body.type != "block":
                continue
            if any(c.type == "continue_statement" for c in walk(body)):
                continue
            ind = line_indent(raw, n.start_byte).decode()
            inner = txt(body)[1:-1].rstrip()
            init_s = txt(init) if txt(init).endswith(";") else txt(init) + ";"
            loop = f"{init_s}\n{ind}while ({txt(cond)}) {{{inner}\n{ind}    {txt(upd[0])};\n{ind}}}"
            names = {
                txt(c.child_by_field_name("name")) for c in walk(init) if c.type == "variable_declarator"
            }
            if any(decl_count.get(x, 0) > 1 for x in names):
                loop = "{\n" + ind + "    " + loop.replace("\n", "\n    ") + "\n" + ind + "}"
            edits.append((n.start_byte, n.end_byte, loop.encode()))
        elif n.type == "if_statement":
            alt = n.child_by_field_name("alternative")
            cond = n.child_by_field_name("condition")
            cons = n.child_by_field_name("consequence")
            if alt is None or cond is None or cons is None or alt.type == "if_statement":
                continue
            if n.parent is not None and n.parent.type == "if_statement":
                continue
            c = txt(cond)[1:-1].strip()
            neg = c[2:-1] if c.startswith("!(") and c.endswith(")") else f"!({c})"
            edits.append((n.start_byte, n.end_byte, f"if ({neg}) {txt(alt)} else {txt(cons)}".encode()))
        elif n.type == "expression_statement" and n.named_children:
            e = n.named_children[0]
            if e.type == "update_expression":
                s = txt(e)
                var, op = (s[:-2], s[-2:]) if s.endswith(("++", "--")) else (s[2:], s[:2])
                edits.append((n.start_byte, n.end_byte, f"{var} {op[0]}= 1;".encode()))
            elif e.type == "assignment_expression":
                left, right = e.child_by_field_name("left"), e.child_by_field_name("right")
                op = txt(e.child_by_field_name("operator"))
                if left is None or right is None:
                    continue
                if op in ("+=", "-=", "*=") and right.type not in ("binary_expression", "ternary_expression"):
                    edits.append(
                        (
                            n.start_byte,
                            n.end_byte,
                            f"{txt(left)} = {txt(left)} {op[0]} {txt(right)};".encode(),
                        )
                    )
                elif op == "=" and right.type == "binary_expression":
                    rl = right.child_by_field_name("left")
                    rop = txt(right.child_by_field_name("operator"))
                    if txt(rl) == txt(left) and rop in ("+", "-", "*"):
                        rest = txt(right)[len(txt(rl)) :].strip()[1:].strip()
                        edits.append((n.start_byte, n.end_byte, f"{txt(left)} {rop}= {rest};".encode()))
    return apply(text, edits)


# -- obfuscators' extras -----------------------------------------------------------------------------


def static_imports(text: str, rng: random.Random) -> str:
    """``Math.max(..)`` -> ``max(..)`` with ``import static java.lang.Math.*;``; ``System.out`` likewise."""
    root = parse(text)
    edits: list[Edit] = []
    used: set[str] = set()
    for n in walk(root):
        if n.type == "method_invocation":
            obj = n.child_by_field_name("object")
            if obj is not None and txt(obj) == "Math":
                edits.append((obj.start_byte, n.child_by_field_name("name").start_byte, b""))  # type: ignore[union-attr]
                used.add("import static java.lang.Math.*;")
        if n.type == "field_access" and txt(n) == "System.out" and rng.random() < 0.9:
            edits.append((n.start_byte, n.end_byte, b"out"))
            used.add("import static java.lang.System.out;")
    if not used:
        return text
    imps = [n for n in root.named_children if n.type in ("import_declaration", "package_declaration")]
    at = imps[-1].end_byte if imps else 0
    lines = "\n".join(sorted(used))
    edits.append((at, at, (("\n" + lines) if imps else (lines + "\n")).encode()))
    return apply(text, edits)


def add_package(text: str, rng: random.Random) -> str:
    parts = [
        rng.choice(["com", "org", "edu", "net"]),
        rng.choice(WORDS),
        rng.choice(WORDS) + str(rng.randint(1, 99)),
    ]
    root = parse(text)
    pk = [n for n in root.named_children if n.type == "package_declaration"]
    line = f"package {'.'.join(parts)};"
    if pk:
        return apply(text, [(pk[0].start_byte, pk[0].end_byte, line.encode())])
    return line + "\n\n" + text


# -- the denser edits of the higher levels -----------------------------------------------------------

NUMERIC = {"int", "long", "double", "float", "short", "byte"}
BOXED = {"int": "Integer", "long": "Long", "double": "Double", "float": "Float", "char": "Character",
         "boolean": "Boolean", "short": "Short", "byte": "Byte"}  # fmt: skip
JUMPS = ("return_statement", "break_statement", "continue_statement", "throw_statement")
MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


def types_of(root: Node) -> dict[str, str]:
    """Declared name -> its type (``?`` where one name is declared with several types)."""
    out: dict[str, str] = {}

    def put(name: str, typ: str) -> None:
        out[name] = typ if out.get(name, typ) == typ else "?"

    for n in walk(root):
        if n.type in ("local_variable_declaration", "field_declaration"):
            typ = txt(n.child_by_field_name("type"))
            for d in n.named_children:
                if d.type == "variable_declarator":
                    put(txt(d.child_by_field_name("name")), typ + txt(d.child_by_field_name("dimensions")))
        elif n.type in ("formal_parameter", "enhanced_for_statement"):
            typ = txt(n.child_by_field_name("type")) + txt(n.child_by_field_name("dimensions"))
            put(txt(n.child_by_field_name("name")), typ)
    return out


def _type_of(n: Node | None, types: dict[str, str]) -> str:
    """The type of a simple expression (a name, ``this.name``, a literal), or ``?``."""
    if n is None:
        return "?"
    if n.type == "identifier":
        return types.get(txt(n), "?")
    if n.type == "field_access":
        return types.get(txt(n.child_by_field_name("field")), "?")
    if n.type == "decimal_integer_literal":
        return "int"
    if n.type == "decimal_floating_point_literal":
        return "double"
    if n.type == "parenthesized_expression" and n.named_children:
        return _type_of(n.named_children[0], types)
    return "?"


def modify_expressions(text: str, rng: random.Random, share: float = 0.85) -> str:
    """Equivalent rewrites at (nearly) every site: ``a < b`` -> ``b > a``, ``a == b`` -> ``b == a``,
    ``a * b`` -> ``b * a``, numeric ``a + b`` -> ``b + a``, ``x++`` -> ``x += 1`` / ``x = x + 1``,
    ``x += e`` -> ``x = x + e`` (where the types allow), ``x = x + e`` -> ``x += e``."""
    root = parse(text)
    types = types_of(root)
    edits: list[Edit] = []
    for n in walk(root):
        if rng.random() > share:
            continue
        if n.type == "binary_expression":
            left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
            op = txt(n.child_by_field_name("operator"))
            if left is None or right is None:
                continue
            simple = left.type != "binary_expression" and right.type != "binary_expression"
            numeric = _type_of(left, types) in NUMERIC and _type_of(right, types) in NUMERIC
            if op in MIRROR and simple and left.type != "instanceof_expression":
                edits.append((n.start_byte, n.end_byte, f"{txt(right)} {MIRROR[op]} {txt(left)}".encode()))
            elif op in ("*", "+") and simple and (op == "*" or numeric):
                edits.append((n.start_byte, n.end_byte, f"{txt(right)} {op} {txt(left)}".encode()))
        elif (
            n.type == "update_expression"
            and n.parent is not None
            and (
                n.parent.type == "expression_statement"
                or (n.parent.type == "for_statement" and n in n.parent.children_by_field_name("update"))
            )
        ):
            s = txt(n)
            var, op = (s[:-2], s[-2:]) if s.endswith(("++", "--")) else (s[2:], s[:2])
            if types.get(var.strip(), "?") in ("int", "long") and rng.random() < 0.5:
                rep = f"{var} = {var} {op[0]} 1"
            else:
                rep = f"{var} {op[0]}= 1"
            edits.append((n.start_byte, n.end_byte, rep.encode()))
        elif n.type == "assignment_expression" and n.parent is not None:
            left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
            op = txt(n.child_by_field_name("operator"))
            if left is None or right is None:
                continue
            lt, rt = _type_of(left, types), _type_of(right, types)
            wide = lt == rt or (lt == "double" and rt in NUMERIC) or (lt == "long" and rt == "int")
            if op in ("+=", "-=", "*=") and (wide or (lt == "String" and op == "+=")):
                r = (
                    txt(right)
                    if right.type not in ("binary_expression", "ternary_expression")
                    else f"({txt(right)})"
                )
                edits.append((n.start_byte, n.end_byte, f"{txt(left)} = {txt(left)} {op[0]} {r}".encode()))
            elif op == "=" and right.type == "binary_expression":
                rl = right.child_by_field_name("left")
                rop = txt(right.child_by_field_name("operator"))
                if txt(rl) == txt(left) and rop in ("+", "-", "*"):
                    rest = txt(right)[len(txt(rl)) :].strip()[1:].strip()
                    edits.append((n.start_byte, n.end_byte, f"{txt(left)} {rop}= {rest}".encode()))
    return apply(text, edits)


def _visible_before(blk: Node, i: int, types: dict[str, str]) -> list[tuple[str, str]]:
    """Initialised locals declared in ``blk`` before its ``i``-th statement, and parameters of the method
    whose body ``blk`` is: (name, type)."""
    out = []
    kids = blk.named_children
    for k in kids[:i]:
        if k.type == "local_variable_declaration":
            for d in k.named_children:
                if d.type == "variable_declarator" and d.child_by_field_name("value") is not None:
                    out.append((txt(d.child_by_field_name("name")), txt(k.child_by_field_name("type"))))
    p = blk.parent
    if p is not None and p.type in ("method_declaration", "constructor_declaration"):
        ps = p.child_by_field_name("parameters")
        for f in ps.named_children if ps is not None else []:
            if f.type == "formal_parameter" and not txt(f.child_by_field_name("dimensions")):
                out.append((txt(f.child_by_field_name("name")), txt(f.child_by_field_name("type"))))
    return [(n, t) for n, t in out if t in NUMERIC | {"String", "boolean", "char"} and types.get(n) == t]


def add_statements(text: str, rng: random.Random, share: float = 0.4) -> str:
    """Statements that change nothing inserted between a block's statements: temporary copies of
    variables (``int t = x;``), unused counters, empty prints and flushes, checks that never fire."""
    root = parse(text)
    raw = text.encode()
    types = types_of(root)
    taken = {txt(n) for n in walk(root) if n.type in ("identifier", "type_identifier")}
    make = fresh_names(rng, "words", taken)
    edits: list[Edit] = []
    for blk in walk(root):
        if blk.type != "block":
            continue
        kids = _members(blk)
        ctor = blk.parent is not None and blk.parent.type == "constructor_declaration"
        for i, st in enumerate(kids):
            if (i == 0 and ctor) or (i > 0 and kids[i - 1].type in JUMPS) or rng.random() > share:
                continue
            seen = _visible_before(blk, blk.named_children.index(st), types)
            pick = rng.random()
            if seen and pick < 0.45:
                name, typ = rng.choice(seen)
                if typ in NUMERIC and rng.random() < 0.5:
                    line = f'if ({name} < {name}) {{\n    System.out.println("{name}");\n}}'
                else:
                    line = f"{typ} {make('', 'local')} = {name};"
            elif pick < 0.65:
                line = f"int {make('', 'local')} = {rng.randint(0, 9)};"
            elif pick < 0.85:
                line = rng.choice(["System.out.flush();", 'System.out.print("");'])
            else:
                line = f"boolean {make('', 'local')} = {rng.choice(['true', 'false'])};"
            ind = line_indent(raw, st.start_byte).decode()
            block = line.replace("\n", "\n" + ind)
            edits.append((st.start_byte, st.start_byte, (block + "\n" + ind).encode()))
    return apply(text, edits)


HELPERS = [
    "private static int {n}(int a, int b) {{\n    return a > b ? a : b;\n}}",
    "private static boolean {n}(int v) {{\n    return v % 2 == 0;\n}}",
    "private static void {n}(String s) {{\n    System.out.println(s);\n}}",
    "private static double {n}(double a, double b) {{\n    double t = a;\n    a = b;\n    b = t;\n"
    "    return a - b;\n}}",
    'private static String {n}(String s) {{\n    if (s == null) {{\n        return "";\n    }}\n'
    "    return s.trim();\n}}",
]


def add_helpers(text: str, rng: random.Random, count: int = 2) -> str:
    """Unused helper methods added to the main class."""
    root = parse(text)
    cls = main_class(root)
    body = cls.child_by_field_name("body") if cls is not None else None
    if body is None:
        return text
    raw = text.encode()
    taken = {txt(n) for n in walk(root) if n.type == "identifier"}
    make = fresh_names(rng, "words", taken)
    ind = line_indent(raw, body.named_children[0].start_byte).decode() if body.named_children else "    "
    methods = [rng.choice(HELPERS).format(n=make("", "method")) for _ in range(count)]
    block = "".join("\n" + ind + m.replace("\n", "\n" + ind) + "\n" for m in methods)
    return apply(text, [(body.end_byte - 1, body.end_byte - 1, block.encode())])


REWORDS = [("Enter ", "Please enter "), ("Enter ", "Input "), (":", " :"), ("!", "."), (".", "!"),
           ("number", "value"), ("Error", "Problem"), ("found", "located")]  # fmt: skip


def reword_strings(text: str, rng: random.Random, share: float = 0.5) -> str:
    """Some string messages reworded slightly (format strings left alone)."""
    root = parse(text)
    edits: list[Edit] = []
    for n in walk(root):
        if n.type != "string_literal" or rng.random() > share:
            continue
        s = txt(n)
        if "%" in s or "\\" in s:  # a format string, an escape: left as it is
            continue
        options = [(a, b) for a, b in REWORDS if a in s[1:-1]]
        if options:
            a, b = rng.choice(options)
            edits.append((n.start_byte, n.end_byte, ('"' + s[1:-1].replace(a, b, 1) + '"').encode()))
    return apply(text, edits)


def add_final(text: str, rng: random.Random, share: float = 0.8) -> str:
    """``final`` added to initialised locals and to parameters that are never assigned again."""
    root = parse(text)
    assigned: set[str] = set()
    for n in walk(root):
        if n.type == "assignment_expression":
            assigned |= _ids(n.child_by_field_name("left"))  # type: ignore[arg-type]
        elif n.type == "update_expression":
            assigned |= _ids(n)
    edits: list[Edit] = []
    for n in walk(root):
        if n.type == "formal_parameter" and not any(c.type == "modifiers" for c in n.children):
            if txt(n.child_by_field_name("name")) not in assigned and rng.random() < share:
                edits.append((n.start_byte, n.start_byte, b"final "))
            continue
        if n.type != "local_variable_declaration" or any(c.type == "modifiers" for c in n.children):
            continue
        ds = [d for d in n.named_children if d.type == "variable_declarator"]
        if n.parent is None or n.parent.type != "block" or rng.random() > share:
            continue
        if all(d.child_by_field_name("value") is not None for d in ds) and not any(
            txt(d.child_by_field_name("name")) in assigned for d in ds
        ):
            edits.append((n.start_byte, n.start_byte, b"final "))
    return apply(text, edits)


def _inner(body: Node) -> str:
    """A loop body's statements (the text inside its braces, or the single statement)."""
    return txt(body)[1:-1].rstrip() if body.type == "block" else " " + txt(body)


def _cond(n: Node | None) -> str:
    s = txt(n).strip()
    return s if s.startswith("(") and s.endswith(")") else f"({s})"


def _enhanced_for(n: Node, types: dict[str, str], make: Callable[[str, str], str], ind: str) -> str | None:
    typ, name = n.child_by_field_name("type"), n.child_by_field_name("name")
    val, body = n.child_by_field_name("value"), n.child_by_field_name("body")
    if typ is None or name is None or val is None or body is None:
        return None
    mods = "".join(txt(c) + " " for c in n.children if c.type == "modifiers")
    vt = _type_of(val, types)
    simple = val.type in ("identifier", "field_access")
    if simple and vt.endswith("]"):
        i = make("", "local")
        head = f"for (int {i} = 0; {i} < {txt(val)}.length; {i}++) {{"
        first = f"{mods}{txt(typ)} {txt(name)} = {txt(val)}[{i}];"
    elif (simple and vt != "?") or (
        val.type == "method_invocation"
        and txt(val.child_by_field_name("name")) in ("entrySet", "keySet", "values")
    ):
        it = make("", "local")
        boxed = BOXED.get(txt(typ), txt(typ))
        head = f"for (java.util.Iterator<{boxed}> {it} = {txt(val)}.iterator(); {it}.hasNext(); ) {{"
        first = f"{mods}{txt(typ)} {txt(name)} = {it}.next();"
    else:
        return None
    return f"{head}\n{ind}    {first}{_inner(body)}\n{ind}}}"


def _ternary_statement(n: Node, ind: str) -> str | None:
    """``x = c ? a : b;``, ``T x = c ? a : b;``, ``return c ? a : b;``, ``f(c ? a : b);`` as if/else."""
    terns = [c for c in walk(n) if c.type == "ternary_expression"]
    if len(terns) != 1 or any(c.type == "lambda_expression" for c in walk(n)):
        return None
    t = terns[0]
    cond, a, b = (t.child_by_field_name(k) for k in ("condition", "consequence", "alternative"))
    if cond is None or a is None or b is None:
        return None
    s, off = txt(n), n.start_byte
    with_a = s[: t.start_byte - off] + txt(a) + s[t.end_byte - off :]
    with_b = s[: t.start_byte - off] + txt(b) + s[t.end_byte - off :]
    if n.type == "local_variable_declaration":
        ds = [d for d in n.named_children if d.type == "variable_declarator"]
        if len(ds) != 1 or ds[0].child_by_field_name("value") != t:
            return None
        x = txt(ds[0].child_by_field_name("name"))
        head = s[: ds[0].end_byte - off].split("=")[0].rstrip() + ";"
        with_a, with_b = f"{x} = {txt(a)};", f"{x} = {txt(b)};"
        head += f"\n{ind}"
    else:
        head = ""
    return head + f"if {_cond(cond)} {{\n{ind}    {with_a}\n{ind}}} else {{\n{ind}    {with_b}\n{ind}}}"


def _switch(n: Node, ind: str) -> str | None:
    """A ``switch`` statement whose groups end in break/return/throw as an ``if``/``else if`` chain."""
    subj, blk = n.child_by_field_name("condition"), n.child_by_field_name("body")
    if subj is None or blk is None or not subj.named_children or subj.named_children[0].type != "identifier":
        return None
    v = txt(subj.named_children[0])
    parts: list[str] = []
    default: str | None = None
    for g in blk.named_children:
        if g.type != "switch_block_statement_group":
            return None
        labels = [c for c in g.named_children if c.type == "switch_label"]
        stmts = [c for c in g.named_children if c.type != "switch_label"]
        if not stmts or stmts[-1].type not in ("break_statement", "return_statement", "throw_statement"):
            return None
        for st in stmts:
            for c in walk(st):
                if c.type == "break_statement" and not any(
                    a.type in ("for_statement", "while_statement", "do_statement", "enhanced_for_statement",
                               "switch_expression") for a in _ancestors(c) if a.start_byte > n.start_byte
                ) and c != stmts[-1]:  # fmt: skip
                    return None
        if stmts[-1].type == "break_statement":
            stmts = stmts[:-1]
        body = "".join(f"\n{ind}    " + txt(st).replace("\n", "\n") for st in stmts)
        conds = []
        for lab in labels:
            vals = lab.named_children
            if not vals:
                if default is not None or g != blk.named_children[-1]:
                    return None
                default = body
                break
            for val in vals:
                conds.append(
                    f"{txt(val)}.equals({v})" if val.type == "string_literal" else f"{v} == {txt(val)}"
                )
        else:
            parts.append(f"if ({' || '.join(conds)}) {{{body}\n{ind}}}")
    if not parts:
        return None
    out = " else ".join(parts)
    return out + (f" else {{{default}\n{ind}}}" if default is not None else "")


def restructure_control(text: str, rng: random.Random, share: float = 0.9) -> str:
    """Loops over arrays and collections as index or iterator loops, ternaries as ``if``/``else``,
    ``switch`` as ``if`` chains, ``if (a && b)`` nested, ``while`` as ``for (; c; )``."""
    for _ in range(2):  # a second pass reaches what an outer rewrite left nested
        root = parse(text)
        raw = text.encode()
        types = types_of(root)
        taken = {txt(n) for n in walk(root) if n.type in ("identifier", "type_identifier")}
        make = fresh_names(rng, "short", taken)
        edits: list[Edit] = []
        for n in walk(root):
            if rng.random() > share:
                continue
            ind = line_indent(raw, n.start_byte).decode()
            rep: str | None = None
            if n.type == "enhanced_for_statement":
                rep = _enhanced_for(n, types, make, ind)
            elif n.type in ("expression_statement", "return_statement", "local_variable_declaration") and (
                n.parent is not None and n.parent.type == "block"
            ):
                rep = _ternary_statement(n, ind)
            elif n.type == "switch_expression" and n.parent is not None and n.parent.type in ("block",):
                rep = _switch(n, ind)
            elif n.type == "if_statement" and n.child_by_field_name("alternative") is None:
                c = n.child_by_field_name("condition")
                e = c.named_children[0] if c is not None and c.named_children else None
                cons = n.child_by_field_name("consequence")
                if (
                    e is not None
                    and e.type == "binary_expression"
                    and txt(e.child_by_field_name("operator")) == "&&"
                    and cons is not None
                ):
                    a, b = e.child_by_field_name("left"), e.child_by_field_name("right")
                    rep = f"if {_cond(a)} {{\n{ind}    if {_cond(b)} {txt(cons)}\n{ind}}}"
            elif n.type == "while_statement" and rng.random() < 0.5:
                c, body = n.child_by_field_name("condition"), n.child_by_field_name("body")
                if c is not None and body is not None:
                    rep = ("for (;;) " if txt(c) == "(true)" else f"for (; {txt(c)[1:-1]}; ) ") + txt(body)
            if rep is not None:
                edits.append((n.start_byte, n.end_byte, rep.encode()))
        text = apply(text, edits)
    return text


def declarations_to_top(text: str, rng: random.Random, share: float = 0.8) -> str:
    """Locals of a method body declared at its top (``T x;``), assigned where they were declared
    (names declared once in their method only, so that no scope changes)."""
    root = parse(text)
    raw = text.encode()
    edits: list[Edit] = []
    for meth in walk(root):
        body = meth.child_by_field_name("body") if meth.type == "method_declaration" else None
        if body is None or not body.named_children:
            continue
        count: dict[str, int] = {}
        for d in walk(meth):
            nm = d.child_by_field_name("name")
            if d.type in ("variable_declarator", "formal_parameter", "enhanced_for_statement",
                          "catch_formal_parameter") and nm is not None:  # fmt: skip
                count[txt(nm)] = count.get(txt(nm), 0) + 1
            elif d.type == "lambda_expression":
                for c in walk(d):
                    if c.type == "identifier":
                        count[txt(c)] = count.get(txt(c), 0) + 2
        top: list[tuple[str, str]] = []
        for st in walk(body):  # at any depth (a loop's locals too), and a ``for``'s initialiser
            if st.type != "local_variable_declaration" or any(c.type == "modifiers" for c in st.children):
                continue
            if (
                st.parent is None
                or st.parent.type not in ("block", "for_statement")
                or next(
                    a for a in _ancestors(st) if a.type in ("method_declaration", "constructor_declaration")
                )
                != meth
            ):
                continue
            ds = [d for d in st.named_children if d.type == "variable_declarator"]
            typ = txt(st.child_by_field_name("type"))
            if len(ds) != 1 or typ == "var" or rng.random() > share:
                continue
            name, value = txt(ds[0].child_by_field_name("name")), ds[0].child_by_field_name("value")
            dims = txt(ds[0].child_by_field_name("dimensions"))
            if count.get(name) != 1 or (value is not None and value.type == "array_initializer"):
                continue
            top.append((typ + dims, name))
            rep = f"{name} = {txt(value)};" if value is not None else ""
            end = st.end_byte
            if value is None:  # the whole line goes
                end = raw.find(b"\n", st.end_byte) if raw.find(b"\n", st.end_byte) >= 0 else st.end_byte
            edits.append((st.start_byte, end, rep.encode()))
        if not top:
            continue
        rng.shuffle(top)  # independent declarations: any order
        ind = line_indent(raw, body.named_children[0].start_byte).decode()
        lines: list[str] = []
        for typ, name in top:
            if lines and lines[-1].startswith(typ + " ") and rng.random() < 0.5:
                lines[-1] = lines[-1][:-1] + f", {name};"
            else:
                lines.append(f"{typ} {name};")
        at = body.start_byte + 1
        edits.append((at, at, ("".join(f"\n{ind}{x}" for x in lines)).encode()))
    return apply(text, edits)


JAVA_LANG = {"System", "Math", "Integer", "Double", "Long", "Character", "String", "Boolean"}


def qualify_names(text: str, rng: random.Random, share: float = 0.8) -> str:
    """``java.lang`` classes written out in full: ``java.lang.System.out``, ``java.lang.Math.max(..)``,
    ``java.lang.String s``."""
    root = parse(text)
    edits: list[Edit] = []
    for n in walk(root):
        if txt(n) not in JAVA_LANG or rng.random() > share or n.parent is None:
            continue
        p = n.parent
        if n.type == "identifier" and p.type in ("method_invocation", "field_access"):
            if p.child_by_field_name("object") == n:
                edits.append((n.start_byte, n.end_byte, f"java.lang.{txt(n)}".encode()))
        elif n.type == "type_identifier" and p.type != "scoped_type_identifier":
            edits.append((n.start_byte, n.end_byte, f"java.lang.{txt(n)}".encode()))
    return apply(text, edits)


def inline_methods(text: str, rng: random.Random) -> str:
    """Static helpers called once, as a statement (``f(a);``, ``x = f(a);``, ``T x = f(a);``), inlined
    into their caller as a block (void helpers without ``return``; others ending in their only one)."""
    root = parse(text)
    meths = {}
    calls: dict[str, list[Node]] = {}
    for n in walk(root):
        if n.type == "method_declaration":
            mods = next((txt(c) for c in n.children if c.type == "modifiers"), "")
            if "static" in mods.split() and txt(n.child_by_field_name("name")) != "main":
                meths[txt(n.child_by_field_name("name"))] = n
        elif n.type == "method_invocation" and n.child_by_field_name("object") is None:
            calls.setdefault(txt(n.child_by_field_name("name")), []).append(n)
    names = [k for k in meths if len(calls.get(k, [])) == 1 and list(meths).count(k) == 1]
    rng.shuffle(names)
    raw = text.encode()
    for name in names:
        m, call = meths[name], calls[name][0]
        body = m.child_by_field_name("body")
        st = call.parent
        if body is None or st is None:
            continue
        rets = [c for c in walk(body) if c.type == "return_statement"]
        void = txt(m.child_by_field_name("type")) == "void"
        stmts = _members(body)
        target = ""
        if st.type == "expression_statement" and void and not rets:
            holder = st
        elif not void and len(rets) == 1 and stmts and stmts[-1] == rets[0] and rets[0].named_children:
            if (
                st.type == "assignment_expression"
                and st.parent is not None
                and st.parent.type == "expression_statement"
            ):
                target, holder = txt(st.child_by_field_name("left")) + " = ", st.parent
            elif (
                st.type == "variable_declarator"
                and st.parent is not None
                and st.parent.type == "local_variable_declaration"
            ):
                decl = st.parent
                if len([d for d in decl.named_children if d.type == "variable_declarator"]) != 1:
                    continue
                target, holder = txt(st.child_by_field_name("name")) + " = ", decl
            else:
                continue
        else:
            continue
        caller = next(
            (a for a in _ancestors(holder) if a.type in ("method_declaration", "constructor_declaration")),
            None,
        )
        if caller is None or caller == m or holder.parent is None or holder.parent.type != "block":
            continue
        inner = {
            txt(c.child_by_field_name("name"))
            for c in walk(m)
            if c.type
            in ("variable_declarator", "formal_parameter", "enhanced_for_statement", "catch_formal_parameter")
        }
        outer = _ids(caller)
        if inner & outer or any(c.type in ("this", "super", "lambda_expression") for c in walk(m)):
            continue
        args = call.child_by_field_name("arguments")
        params = [
            p for p in m.child_by_field_name("parameters").named_children if p.type == "formal_parameter"
        ]  # type: ignore[union-attr]
        argv = [a for a in args.named_children] if args is not None else []
        if len(argv) != len(params):
            continue
        ind = line_indent(raw, holder.start_byte).decode()
        lines = [
            f"{txt(p.child_by_field_name('type'))}{txt(p.child_by_field_name('dimensions'))} "
            f"{txt(p.child_by_field_name('name'))} = {txt(a)};"
            for p, a in zip(params, argv, strict=True)
        ]
        keep = stmts[:-1] if rets else stmts
        lines += [txt(s) for s in keep]
        if rets:
            lines.append(f"{target}{txt(rets[0].named_children[0])};")
        block = "{" + "".join(f"\n{ind}    " + x for x in lines) + f"\n{ind}}}"
        pre = ""
        if holder.type == "local_variable_declaration":
            pre = f"{txt(holder.child_by_field_name('type'))} {target[:-3]};\n{ind}"
        edits = [(holder.start_byte, holder.end_byte, (pre + block).encode())]
        start = raw.rfind(b"\n", 0, m.start_byte) + 1
        edits.append((start, m.end_byte, b""))
        return apply(text, edits)  # one at a time: the tree changed
    return text


def inline_all(text: str, rng: random.Random, share: float = 0.7) -> str:
    """:func:`inline_methods` repeated, each time with probability ``share``."""
    for _ in range(4):
        if rng.random() > share:
            break
        new = inline_methods(text, rng)
        if new == text:
            break
        text = new
    return text


def qualify_members(text: str, rng: random.Random, share: float = 0.8) -> str:
    """Fields used by their simple name written out: ``this.count``, ``Main.LIMIT``."""
    root = parse(text)
    edits: list[Edit] = []
    for cls in walk(root):
        body = cls.child_by_field_name("body") if cls.type == "class_declaration" else None
        if body is None:
            continue
        cname = txt(cls.child_by_field_name("name"))
        fields: dict[str, bool] = {}  # name -> static
        for f in body.named_children:
            if f.type == "field_declaration":
                static = "static" in next((txt(c) for c in f.children if c.type == "modifiers"), "").split()
                for d in f.named_children:
                    if d.type == "variable_declarator":
                        fields[txt(d.child_by_field_name("name"))] = static
        for meth in body.named_children:
            if meth.type not in ("method_declaration", "constructor_declaration"):
                continue
            mstatic = "static" in next((txt(c) for c in meth.children if c.type == "modifiers"), "").split()
            kinds = (
                "variable_declarator",
                "formal_parameter",
                "enhanced_for_statement",
                "catch_formal_parameter",
            )
            local = {txt(c.child_by_field_name("name")) for c in walk(meth) if c.type in kinds}
            local |= {txt(c) for c in walk(meth) if c.type == "identifier" and c.parent is not None
                      and c.parent.type in ("lambda_expression", "inferred_parameters")}  # fmt: skip
            for n in walk(meth):
                name = txt(n)
                if n.type != "identifier" or name not in fields or name in local or rng.random() > share:
                    continue
                p = n.parent
                if p is None or p.type == "variable_declarator":
                    continue
                if p.type in ("field_access", "method_invocation") and p.child_by_field_name("object") != n:
                    continue
                if next(a for a in _ancestors(n) if a.type == "class_declaration") != cls:
                    continue
                if fields[name]:
                    edits.append((n.start_byte, n.end_byte, f"{cname}.{name}".encode()))
                elif not mstatic:
                    edits.append((n.start_byte, n.end_byte, f"this.{name}".encode()))
    return apply(text, edits)


PURE_CLASSES = {"Math", "Integer", "Double", "Long", "Character", "Boolean", "String"}


def _effects(st: Node, io: set[str]) -> tuple[set[str], set[str], bool]:
    """What a statement reads and writes (names; calls write their object, input and output are one
    resource, ``System``), and whether it is a barrier (jumps, calls of the program's own methods)."""
    reads, writes = _ids(st), _writes(st)
    barrier = False
    for c in walk(st):
        if c.type in ("return_statement", "break_statement", "continue_statement", "throw_statement",
                      "yield_statement", "object_creation_expression", "lambda_expression"):  # fmt: skip
            if c.type != "object_creation_expression" or txt(c.child_by_field_name("type")) not in (
                "Scanner",
                "java.util.Scanner",
                "ArrayList",
                "HashMap",
                "TreeMap",
                "StringBuilder",
            ):
                barrier = True
        elif c.type == "method_invocation":
            obj = c.child_by_field_name("object")
            if obj is None:
                barrier = True
                continue
            root = obj
            while root.type in ("field_access", "method_invocation", "array_access") and root.named_children:
                root = root.named_children[0]
            name = txt(root)
            if name in PURE_CLASSES:
                continue
            if name in ("Arrays", "Collections"):
                args = c.child_by_field_name("arguments")
                writes |= _ids(args) if args is not None else set()
                continue
            writes.add("System" if name in io else name)
            if name in io:
                reads.add("System")
    return reads, writes, barrier


def shuffle_statements(text: str, rng: random.Random) -> str:
    """Every block's statements in a random order that keeps each one after those it depends on
    (a random topological order of the statements' read/write dependencies)."""
    root = parse(text)
    raw = text.encode()
    io = library_objects(root) | {"System"}
    edits: list[Edit] = []
    for blk in walk(root):
        if blk.type != "block":
            continue
        kids = _members(blk)
        if len(kids) < 2:
            continue
        eff = [_effects(k, io) for k in kids]
        after: list[set[int]] = [set() for _ in kids]
        for j in range(len(kids)):
            rj, wj, bj = eff[j]
            for i in range(j):
                ri, wi, bi = eff[i]
                if bi or bj or wi & (rj | wj) or wj & ri:
                    after[j].add(i)
        order: list[int] = []
        left = set(range(len(kids)))
        while left:
            ready = sorted(j for j in left if after[j] <= set(order))
            pick = rng.choice(ready)
            order.append(pick)
            left.discard(pick)
        for old, new in zip(kids, order, strict=True):
            if kids[new] != old:
                edits.append((old.start_byte, old.end_byte, raw[kids[new].start_byte : kids[new].end_byte]))
    return apply(text, edits)
