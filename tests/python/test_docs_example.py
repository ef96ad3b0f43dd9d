"""docs/writing-models.md quotes the example model of tests/cpp/models/example_model.cpp
(compiled and tested by the C++ suite, tag [models]): the quoted code must stay
identical to the file's lines between "// example begin" and "// example end"."""

import re


def test_writing_models_quotes_the_tested_example(source_dir):
    source = (source_dir / "tests" / "cpp" / "models" / "example_model.cpp").read_text(encoding="utf-8")
    lines = source.split("\n")
    begin, end = lines.index("// example begin"), lines.index("// example end")
    example = "\n".join(lines[begin + 1:end])

    doc = (source_dir / "docs" / "writing-models.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- example: tests/cpp/models/example_model\.cpp[^\n]*-->\n```cpp\n(.*?)\n```\n", doc, re.S)
    assert match, "docs/writing-models.md has no example block after its <!-- example: ... --> marker"
    assert match.group(1) == example, "docs/writing-models.md's example differs from tests/cpp/models/example_model.cpp"
    assert "class LinearDriftModel" in example
