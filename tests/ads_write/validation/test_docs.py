from ads_write.validation import docs, engine


def test_committed_rules_doc_is_the_generated_one():
    committed = docs.OUTPUT.read_text(encoding="utf-8")
    assert committed == docs.render(), "docs/rules.md is stale: run python -m ads_write.validation.docs"


def test_rules_doc_names_every_code():
    text = docs.render()
    for rule in engine.RULES:
        assert f"### `{rule.code}`" in text


def test_check_mode(tmp_path):
    stale = tmp_path / "rules.md"
    stale.write_text("old")
    assert docs.main(["--check", "--output", str(stale)]) == 1
    assert docs.main(["--output", str(stale)]) == 0
    assert docs.main(["--check", "--output", str(stale)]) == 0
