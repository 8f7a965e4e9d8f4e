import pytest

from assistant.config import ConfigError, Settings, describe, load_settings


def test_every_field_has_help():
    rows = describe(Settings, load_settings())
    assert len(rows) > 20
    missing = [name for name, _, help_text in rows if not help_text]
    assert missing == []


def test_toml_then_env_then_overrides(settings, tmp_path, monkeypatch):
    toml = tmp_path / "shopassist.toml"
    toml.write_text('[generator]\nengine = "fake"\nmax_new_tokens = 33\n[ui]\nport = 9000\n')
    assert load_settings().generator.engine == "fake"  # picked up from the working directory
    monkeypatch.setenv("SHOPASSIST_UI__PORT", "9100")
    loaded = load_settings()
    assert (loaded.generator.max_new_tokens, loaded.ui.port) == (33, 9100)
    assert load_settings(ui={"port": 9200}).ui.port == 9200


def test_explicit_config_file_must_exist(settings, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_invalid_values_name_the_field(settings, monkeypatch):
    monkeypatch.setenv("SHOPASSIST_GENERATOR__TEMPERATURE", "hot")
    with pytest.raises(ConfigError, match="generator.temperature"):
        load_settings()


def test_derived_paths(settings):
    assert settings.chroma_path == settings.home / "chroma"
    assert settings.orders_path == settings.home / "orders.db"


def test_an_empty_file_setting_means_none_as_its_help_says(settings, monkeypatch):
    monkeypatch.setenv("SHOPASSIST_RETRIEVAL__FAQ_CALIBRATION", "")
    monkeypatch.setenv("SHOPASSIST_RETRIEVAL__RANKER", " ")
    retrieval = load_settings().retrieval
    assert retrieval.faq_calibration is None and retrieval.ranker is None and retrieval.faq_labels is None
    monkeypatch.setenv("SHOPASSIST_RETRIEVAL__FAQ_CALIBRATION", "cal.json")
    assert str(load_settings().retrieval.faq_calibration) == "cal.json"


def test_the_faq_adapter_adapts_the_faq_embedding_only_and_a_bad_one_says_what_to_fix(
    settings, monkeypatch, tmp_path
):
    from assistant.shop import embedding_function

    assert embedding_function(settings, faq=True).get_config().get("adapter") is None  # off by default
    monkeypatch.setenv("SHOPASSIST_EMBEDDING__FAQ_ADAPTER", "shipped")
    adapted = load_settings()
    faq = embedding_function(adapted, faq=True).get_config()
    assert faq["adapter"].endswith("faq-embedder") and len(faq["adapter_tag"]) == 10
    assert "adapter" not in embedding_function(adapted).get_config()  # products keep plain MiniLM
    multilingual = adapted.model_copy(
        update={"embedding": adapted.embedding.model_copy(update={"kind": "e5-small"})}
    )
    assert "adapter" not in embedding_function(multilingual, faq=True).get_config()
    monkeypatch.setenv("SHOPASSIST_EMBEDDING__FAQ_ADAPTER", str(tmp_path))
    with pytest.raises(ConfigError, match=r"embedding.faq_adapter: .* has no adapter_config.json"):
        embedding_function(load_settings(), faq=True)
