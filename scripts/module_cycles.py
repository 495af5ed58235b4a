#!/usr/bin/env python3
"""Finds import circles between the modules of each crate of the workspace.

    python3 scripts/module_cycles.py          # exit 1 and list the circles if there are any

A module imports another when it names it in a `use crate::…`/`use super::…` or in a `crate::…`
path. Re-exports in a crate root or a `mod.rs` (`pub use x::Y`) are a facade, not an import: a path
through one is followed to the module that defines the item. `#[cfg(test)]` modules and comments are
ignored. The layout in crates/README.md promises no circles; CI runs this.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def strip(text):
    """Source without comments, string literals and `#[cfg(test)] mod … { … }` blocks."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def modules(src):
    """Module path (tuple) → file, for one crate's src/."""
    mods = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("lib", "main", "mod"):
            parts = parts[:-1]
        mods[tuple(parts)] = f
    return mods


def use_trees(text):
    """Every path of every `use` declaration, braces expanded, as segment lists."""
    for m in re.finditer(r"\b(pub(?:\([a-z]+\))?\s+)?use\s+([^;]+);", text):
        public = bool(m.group(1))
        for path in expand(re.sub(r"\s+", "", m.group(2))):
            yield public, path


def expand(tree):
    depth, start = 0, None
    for i, c in enumerate(tree):
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                prefix, inner, rest = tree[:start], tree[start + 1 : i], tree[i + 1 :]
                items, d, s = [], 0, 0
                for j, ch in enumerate(inner):
                    d += {"{": 1, "}": -1}.get(ch, 0)
                    if ch == "," and d == 0:
                        items.append(inner[s:j])
                        s = j + 1
                items.append(inner[s:])
                for item in items:
                    if item:
                        yield from expand(prefix + item + rest)
                return
    yield [p.split(" as ")[0] for p in re.sub(r"as(\w+)$", "", tree).split("::") if p]


def crate_graph(src):
    mods = modules(src)
    texts = {m: strip(f.read_text()) for m, f in mods.items()}
    # names re-exported by facades: (module, name) -> absolute path of the item
    reexports = {}
    for m, text in texts.items():
        for public, path in use_trees(text):
            if public and path and path[-1] not in ("self", "*"):
                reexports[(m, path[-1])] = absolute(m, path)

    def resolve(m, path):
        """The module defining what `path` (absolute segments) names."""
        for _ in range(8):
            best = max((k for k in mods if tuple(path[: len(k)]) == k), key=len, default=())
            rest = path[len(best) :]
            if rest and (best, rest[0]) in reexports:
                path = reexports[(best, rest[0])] + rest[1:]
                continue
            return best
        return best

    edges = {m: set() for m in mods}
    for m, text in texts.items():
        refs = [absolute(m, p) for public, p in use_trees(text) if not public]
        refs += [["crate"] + p.split("::") for p in re.findall(r"\bcrate::((?:\w+::)*\w+)", text)]
        # paths relative to this module through its child modules (`runs::run_trend` in a root)
        for child in (k[-1] for k in mods if len(k) == len(m) + 1 and k[: len(m)] == m):
            for p in re.findall(r"(?<![:\w])" + child + r"::((?:\w+::)*\w+)", text):
                refs.append(["crate", *m, child] + p.split("::"))
        for path in refs:
            if not path or path[0] != "crate":
                continue
            target = resolve(m, path[1:])
            if target != m:
                edges[m].add(target)
    return edges


def absolute(module, path):
    if path[0] == "crate":
        return path
    if path[0] in ("super", "self"):
        base = list(module)
        while path and path[0] in ("super", "self"):
            if path[0] == "super":
                base = base[:-1]
            path = path[1:]
        return ["crate"] + base + path
    return path  # an external crate


def cycles(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    found = False
    for src in sorted(ROOT.glob("crates/*/src")):
        for comp in cycles(crate_graph(src)):
            found = True
            names = ", ".join("::".join(c) or "(root)" for c in comp)
            print(f"{src.parent.name}: import circle between {names}")
    if not found:
        print("no import circles between modules")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
