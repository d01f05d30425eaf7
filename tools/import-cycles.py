#!/usr/bin/env python3
"""Fails when the files of a Rust crate import each other in a cycle.

Builds the file-level graph of each crate named on the command line: the module tree
from `mod` declarations, and an edge from a file to the file that defines what it names
through `crate::`, `super::`, `self::`, a child module or the library's own crate name
(in `use` trees and in paths in code; `#[cfg(test)]` items only with --tests: a test may
reach back into what it tests). A name a module imports (`use`, `pub use`) leads to the
file that defines it, so a facade `mod.rs` is not a dependency of its own children.
Prints each cycle (its files, and a shortest loop through them with the line of each
edge) and exits 1.

Usage: import-cycles.py [--tests] [--allow FILE]... CRATE_SRC_ROOT...
  CRATE_SRC_ROOT: a crate's lib.rs or main.rs (a binary next to a library may name the
  library by its crate name: give `--lib-name NAME` before it).
  --allow FILE: a cycle through FILE (relative to the crate root's folder) is listed
  but does not fail the check.
"""

import os
import re
import sys

IDENT = re.compile(r"(?:r#)?[A-Za-z_][A-Za-z0-9_]*")
ITEM_KEYWORDS = {"fn", "struct", "enum", "const", "static", "type", "trait", "union"}


def strip(src):
    """Blanks comments, strings and char literals, keeping line breaks."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif (m := re.match(r'(?:b|c)?r(#*)"', src[i:])) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = '"' + m.group(1)
            j = src.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
        elif c == "'":
            if i + 1 < n and src[i + 1] == "\\":
                j = src.find("'", i + 2)
                out.append("' '")
                i = j + 1
            elif i + 2 < n and src[i + 2] == "'":
                out.append("' '")
                i += 3
            else:
                out.append(" ")  # a lifetime's tick
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tokens(src):
    """(token, line) pairs: identifiers, `::` and single punctuation."""
    toks, line, i, n = [], 1, 0, len(src)
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif m := IDENT.match(src, i):
            word = m.group(0)
            toks.append((word[2:] if word.startswith("r#") else word, line))
            i = m.end()
        elif src.startswith("::", i):
            toks.append(("::", line))
            i += 2
        else:
            toks.append((c, line))
            i += 1
    return toks


def parse_use_tree(toks, i):
    """Parses a use tree at toks[i]; returns (paths, next index). A path is a list of
    segments, `*` for a glob, and the name it binds (or None)."""
    prefix = []
    while i < len(toks):
        t = toks[i][0]
        if t == "{":
            paths, i = [], i + 1
            while toks[i][0] != "}":
                sub, i = parse_use_tree(toks, i)
                paths += [(prefix + p, alias) for p, alias in sub]
                if toks[i][0] == ",":
                    i += 1
            return paths, i + 1
        if t == "*":
            return [(prefix + ["*"], None)], i + 1
        if t == "::":
            i += 1
            continue
        if IDENT.fullmatch(t):
            prefix.append(t)
            i += 1
            if i < len(toks) and toks[i][0] == "as":
                alias = toks[i + 1][0]
                return [(prefix, alias)], i + 2
            if i < len(toks) and toks[i][0] == "::":
                continue
            return [(prefix, prefix[-1])], i
        return [(prefix, prefix[-1] if prefix else None)], i
    return [(prefix, None)], i


class Module:
    def __init__(self, path, file, dir_for_children):
        self.path = path  # tuple of names from the crate root
        self.file = file
        self.dir = dir_for_children
        self.children = set()
        self.items = set()  # names defined here
        self.reexports = {}  # name -> (module path it was used from, full path)
        self.globs = []  # (module path, path) of `use X::*`
        self.refs = []  # (module path, path segments, line) to resolve


class Crate:
    def __init__(self, root, lib_name=None, lib=None, tests=False):
        self.root = root
        self.tests = tests
        self.base = os.path.dirname(root)
        self.lib_name = lib_name
        self.lib = lib
        self.modules = {}
        self.load(root, (), self.base)

    def load(self, file, path, child_dir):
        with open(file, encoding="utf-8") as f:
            toks = tokens(strip(f.read()))
        self.modules[path] = Module(path, file, child_dir)
        stack = [(path, child_dir, -1)]  # inline modules: (path, dir, depth at open)
        depth, i, test_attr, test_depth = 0, 0, False, None
        while i < len(toks):
            t = toks[i][0]
            if [x[0] for x in toks[i : i + 7]] == ["#", "[", "cfg", "(", "test", ")", "]"]:
                test_attr = True
                i += 7
                continue
            if test_attr and test_depth is None:
                test_depth = depth  # the item after `#[cfg(test)]` ends back at this depth
            test_attr = False
            in_test = test_depth is not None and not self.tests
            mpath, mdir, _ = stack[-1]
            mod = self.modules[mpath]
            at_top = depth == stack[-1][2] + 1
            if t == "{":
                depth += 1
            elif t in "};" and depth == test_depth + (t == "}") if test_depth is not None else False:
                test_depth = None
            if t == "}":
                depth -= 1
                if len(stack) > 1 and depth <= stack[-1][2]:
                    stack.pop()
            elif t == "mod" and i + 2 < len(toks) and IDENT.fullmatch(toks[i + 1][0]):
                name, after = toks[i + 1][0], toks[i + 2][0]
                mod.children.add(name)
                if after == "{":
                    sub = mpath + (name,)
                    self.modules[sub] = Module(sub, file, os.path.join(mdir, name))
                    stack.append((sub, os.path.join(mdir, name), depth))
                    depth += 1
                    i += 3
                    continue
                if after == ";" and not in_test:
                    self.load_child(mpath, mdir, name)
                elif after == ";":
                    mod.children.discard(name)
                i += 2
                continue
            elif t == "use":
                paths, i = parse_use_tree(toks, i + 1)
                for segs, alias in paths:
                    if in_test:
                        continue
                    mod.refs.append((mpath, segs, toks[i - 1][1]))
                    if at_top:
                        if segs[-1] == "*":
                            mod.globs.append((mpath, segs[:-1]))
                        elif alias:
                            mod.reexports[alias] = (mpath, segs)
                continue
            elif at_top and t in ITEM_KEYWORDS and i + 1 < len(toks) and IDENT.fullmatch(toks[i + 1][0]):
                mod.items.add(toks[i + 1][0])
            elif at_top and t == "macro_rules" and i + 2 < len(toks):
                mod.items.add(toks[i + 2][0])
            elif IDENT.fullmatch(t) and i + 1 < len(toks) and toks[i + 1][0] == "::" and (i == 0 or toks[i - 1][0] != "::"):
                segs, j = [t], i + 1
                while j + 1 < len(toks) and toks[j][0] == "::" and IDENT.fullmatch(toks[j + 1][0]):
                    segs.append(toks[j + 1][0])
                    j += 2
                if not in_test:
                    mod.refs.append((mpath, segs, toks[i][1]))
                i = j
                continue
            i += 1

    def load_child(self, parent, parent_dir, name):
        for cand in (os.path.join(parent_dir, name + ".rs"), os.path.join(parent_dir, name, "mod.rs")):
            if os.path.exists(cand):
                child_dir = os.path.dirname(cand) if cand.endswith("mod.rs") else os.path.join(parent_dir, name)
                self.load(cand, parent + (name,), child_dir)
                return
        raise SystemExit(f"import-cycles: no file for `mod {name};` in {self.modules[parent].file}")

    def start(self, mpath, segs):
        """The absolute module path a path starts from, and the rest; None when it
        names something outside the crate."""
        first = segs[0]
        if first == "crate":
            return self, (), segs[1:]
        if first == "self":
            return self, mpath, segs[1:]
        if first == "super":
            p, rest = mpath, segs
            while rest and rest[0] == "super":
                p, rest = p[:-1], rest[1:]
            return self, p, rest
        if first == self.lib_name and self.lib:
            return self.lib, (), segs[1:]
        if first in self.modules[mpath].children:
            return self, mpath, segs
        return None

    def resolve(self, mpath, segs, seen=0):
        """The file that defines what `segs` names from module `mpath`, or None."""
        start = self.start(mpath, segs)
        if start is None or seen > 16:
            return None
        crate, p, rest = start
        return crate.walk(p, rest, seen)

    def walk(self, p, rest, seen):
        for k, name in enumerate(rest):
            mod = self.modules[p]
            if name in mod.children and p + (name,) in self.modules:
                p = p + (name,)
                continue
            if name in mod.reexports:
                from_path, target = mod.reexports[name]
                return self.resolve(from_path, target + rest[k + 1:], seen + 1)
            if name not in mod.items:
                for from_path, target in mod.globs:
                    found = self.resolve(from_path, target + [name] + rest[k + 1:], seen + 1)
                    if found:
                        return found
            break
        return self.modules[p].file

    def edges(self):
        graph = {}
        for mod in self.modules.values():
            deps = graph.setdefault(mod.file, {})
            for mpath, segs, line in mod.refs:
                if segs and segs[-1] == "*":
                    segs = segs[:-1]
                if not segs:
                    continue
                target = self.resolve(mpath, segs)
                if target and target != mod.file:
                    deps.setdefault(target, line)
        return graph


def cycles(graph):
    """Every strongly connected component of more than one file (Tarjan), each as one
    cycle through all of its files where one exists, else its file list."""
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, {})):
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
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def shortest_cycle(graph, comp):
    """A shortest cycle through the component's first file, as a list of files."""
    members, first = set(comp), comp[0]
    prev, frontier = {first: None}, [first]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, {})):
                if w == first:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [first]
                if w in members and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return comp


def main(argv):
    allow, roots, lib_name, libs, tests = [], [], None, {}, False
    args = iter(argv)
    for a in args:
        if a == "--allow":
            allow.append(next(args))
        elif a == "--tests":
            tests = True
        elif a == "--lib-name":
            lib_name = next(args)
        else:
            roots.append((a, lib_name))
            lib_name = None
    failed = False
    for root, name in roots:
        lib = libs.get(os.path.dirname(root)) if name else None
        crate = Crate(root, name, lib, tests)
        if os.path.basename(root) == "lib.rs":
            libs[os.path.dirname(root)] = crate
        graph = crate.edges()
        base = crate.base
        for comp in cycles(graph):
            rel = [os.path.relpath(f, base) for f in comp]
            allowed = any(os.path.normpath(a) in rel for a in allow)
            cyc = [os.path.relpath(f, base) for f in shortest_cycle(graph, comp)]
            label = "allowed cycle" if allowed else "import cycle"
            print(f"{base}: {label} among {len(comp)} files: {', '.join(rel)}")
            steps = []
            for a, b in zip(shortest_cycle(graph, comp), shortest_cycle(graph, comp)[1:]):
                steps.append(f"{os.path.relpath(a, base)}:{graph[a][b]}")
            print(f"  e.g. {' -> '.join(cyc)}  (the edges at {', '.join(steps)})")
            failed = failed or not allowed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
