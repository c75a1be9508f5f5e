"""Console programs' idioms: the preambles that a large corpus of Java holds in countless places.

The corpus on a development machine is libraries (the JDK, site-packages, npm and Cargo packages), and
libraries do not read numbers from a console.  The Stack's Java does, in every course's first weeks:
``public static void main``, a ``Scanner`` on ``System.in``, a prompt, a number read, a check of it, a
loop to it.  In the abstract view (names, numbers and strings their class) those few shapes are what
such programs share whatever they compute, and in an index of a few hundred files they looked as
specific as an algorithm: two programs for different tasks, sharing a preamble and a validating ``if``,
were renamed copies of each other (``scripts/eval/programs.py``, the eight lab tasks' independent
solutions).  So the model learns them from this grammar instead: every combination of a program's head,
its reader's set-up, one or two prompted reads of a value and the statement that follows, written out
as a program (:func:`texts`) and fingerprinted whole (:func:`shapes`).  Only shapes are learned (the
abstract view's k-grams): what a program says, its strings and names, stays its own.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from whence.index import fingerprint

#: The program's head: imports, the class, the entry point (the class's name is a name: any).
HEADS = (
    "import java.util.Scanner;\n\npublic class Main {\n    public static void main(String[] args) {\n",
    "import java.util.*;\n\npublic class Main {\n    public static void main(String[] args) {\n",
    "import java.util.Scanner;\n\nclass Main {\n    public static void main(String args[]) {\n",
    "import java.io.*;\n\npublic class Main {\n"
    "    public static void main(String[] args) throws IOException {\n",
)
#: The reader's set-up and its prompted reads of a value, by type.  ``in`` is a keyword of the lexer's
#: (JavaScript's, Python's), so a reader named so has a shape of its own: both are learned (:data:`NAMES`).
READERS = (
    (
        "        Scanner sc = new Scanner(System.in);\n",
        (
            '        System.out.print("Enter a value: ");\n        int x = sc.nextInt();\n',
            '        System.out.print("Enter a value: ");\n        double x = sc.nextDouble();\n',
            '        System.out.print("Enter a value: ");\n        long x = sc.nextLong();\n',
            '        System.out.print("Enter a value: ");\n        String x = sc.nextLine();\n',
            "        int x = sc.nextInt();\n",
        ),
    ),
    (
        "        BufferedReader sc = new BufferedReader(new InputStreamReader(System.in));\n",
        (
            '        System.out.print("Enter a value: ");\n'
            "        int x = Integer.parseInt(sc.readLine());\n",
            '        System.out.print("Enter a value: ");\n        String x = sc.readLine();\n',
        ),
    ),
)
#: The reader's names that differ in shape.
NAMES = ("sc", "in")
#: What follows the reads: a check of the value, a loop to it, an array of its size, the output, the end.
NEXT = (
    '        if (x < 0) {\n            System.out.println("Invalid.");\n            return;\n        }\n',
    '        if (x <= 0) {\n            System.out.println("Invalid.");\n        } else {\n'
    '            System.out.println("Ok.");\n        }\n',
    "        for (int i = 1; i <= x; i++) {\n            System.out.println(i);\n        }\n",
    "        for (int i = 0; i < x; i++) {\n            a[i] = sc.nextInt();\n        }\n",
    "        while (x > 0) {\n            x = x / 10;\n        }\n",
    "        int[] a = new int[x];\n",
    "        int s = 0;\n",
    '        System.out.println("Result: " + x);\n',
    '        System.out.printf("%.2f%n", x);\n',
    "        sc.close();\n",
)
TAIL = "    }\n}\n"


def texts() -> list[str]:
    """Every program of the grammar: a head, a reader, one or two of its reads, a following statement,
    with each of the reader's :data:`NAMES`."""
    out = []
    for head, (reader, reads), after in itertools.product(HEADS, READERS, NEXT):
        for first in reads:
            out.append(head + reader + first + after + TAIL)
            out.extend(head + reader + first + second + after + TAIL for second in reads)
    return [t.replace("sc", name) for t in out for name in NAMES]


def shapes() -> npt.NDArray[np.uint64]:
    """Every abstract k-gram of every program of :func:`texts`, lexed as Java, sorted and distinct: all of
    them, not those winnowing selects, since a query's every k-gram is looked up in the model and the
    grammar's programs are the shapes themselves, not a sample of places."""
    parts = [fingerprint.kgrams(fingerprint.tokenize(t.encode("utf-8"), "java").abstract) for t in texts()]
    return np.unique(np.concatenate(parts))
