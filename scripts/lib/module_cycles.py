"""Import cycles between the library's top-level modules (server/src/*).

A module's dependencies are the other top-level modules its non-test code
names through `crate::`. Prints each cycle; exits 1 if there is one.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "server", "src")


def dependencies():
    deps = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".rs") or "tests" in name:
                continue
            path = os.path.join(folder, name)
            top = os.path.relpath(path, ROOT).split(os.sep)[0].removesuffix(".rs")
            if top in ("lib", "main"):
                continue
            text = re.split(r"#\[cfg\(test\)\]", open(path).read())[0]
            named = set(re.findall(r"crate::([a-z_]+)", text))
            for group in re.findall(r"crate::\{([^;]*)\}", text, re.S):
                named |= set(re.findall(r"(?:^|[,{\s])([a-z_]+)(?:::|\s*[,}])", group))
            deps.setdefault(top, set()).update(named - {top})
    return {module: named & deps.keys() for module, named in deps.items()}


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


if __name__ == "__main__":
    graph = dependencies()
    found = cycles(graph)
    for component in found:
        print("import cycle: " + ", ".join(component), file=sys.stderr)
        for module in component:
            print(f"  {module} -> {', '.join(sorted(graph[module] & set(component)))}", file=sys.stderr)
    sys.exit(1 if found else 0)
