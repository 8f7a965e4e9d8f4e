"""Languages of a shop and of each message: detection, and the BM25 analyzer of each language.

The lexical index was English only (Snowball English stems and word bigrams): a German catalogue
lost its inflections and a Chinese title, written without spaces, was one token. Here each
language gets its own analyzer (jieba words for Chinese, its Snowball stemmer for the European
languages PyStemmer knows), a shop declares its locale(s), and a shop with several locales keeps
one BM25 field per language (each document analyzed in its detected language, the tokens of each
language kept apart) so a stem of one language never matches a different word of another.

Detection uses lingua (models compiled into the wheel: nothing is downloaded) restricted to the
shop's candidate languages, which is both faster and far more accurate on short messages than
choosing among 75. Without lingua installed, the script decides (Han characters mean Chinese) and
everything else is the shop's default language, with confidence 0.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from retrieval.text import lexical_tokens

log = logging.getLogger(__name__)

# ISO 639-1 code -> PyStemmer (Snowball) algorithm.
SNOWBALL = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
    "pt": "portuguese",
    "sv": "swedish",
    "da": "danish",
    "no": "norwegian",
    "nb": "norwegian",
    "fi": "finnish",
    "ru": "russian",
    "pl": "polish",
    "cs": "czech",
    "hu": "hungarian",
    "ro": "romanian",
    "tr": "turkish",
    "ca": "catalan",
    "el": "greek",
}
SEGMENTED = frozenset({"zh"})
SUPPORTED = frozenset(SNOWBALL) | SEGMENTED
# Languages a message is told apart from when the shop names no candidates.
DEFAULT_CANDIDATES = ("en", "de", "fr", "es", "it", "nl", "pt", "zh")


def normalize_locale(locale: str) -> str:
    """'zh-CN', 'zh_Hans', 'de-AT' -> 'zh', 'de': analyzers and detection work per language."""
    code = locale.strip().replace("_", "-").split("-")[0].lower()
    if code not in SUPPORTED:
        raise ValueError(
            f"unsupported locale {locale!r}; supported languages: {', '.join(sorted(SUPPORTED))}"
        )
    return code


# ---------------------------------------------------------------- detection


@dataclass(frozen=True)
class Detection:
    """A language (ISO 639-1) and the detector's relative confidence in it, 0..1."""

    language: str
    confidence: float


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_LATIN_WORD = re.compile(r"[^\W\d_]+")
_DETECTOR_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _lingua(candidates: tuple[str, ...]) -> Any:
    """One lingua detector per candidate set (models load on first use: ~3 s, ~200 MB for eight
    languages), or None without lingua."""
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    except ImportError:
        return None
    languages = []
    for code in candidates:
        iso = getattr(IsoCode639_1, code.upper(), None)
        if iso is not None:
            languages.append(Language.from_iso_code_639_1(iso))
    if len(languages) < 2:
        return None
    return LanguageDetectorBuilder.from_languages(*languages).build()


def _by_script(text: str, candidates: Sequence[str], default: str) -> Detection | None:
    """Chinese when Han characters outweigh the Latin words (a brand in a Chinese query is still
    Chinese; a Chinese product name in an English sentence is not); None when the script says nothing."""
    han = len(_HAN.findall(text))
    if not han or _KANA.search(text) or "zh" not in candidates:
        return None
    latin = len(_LATIN_WORD.findall(_HAN.sub(" ", text)))
    if han / 1.5 >= latin:
        return Detection("zh", round(min(1.0, han / (han + latin)), 3))
    return Detection(default, 0.0)


def detect(text: str, candidates: Sequence[str] | None = None, default: str = "en") -> Detection:
    """The language of `text` among `candidates` (ISO codes; default DEFAULT_CANDIDATES).

    Text with no letters, or a language lingua cannot tell (it is not installed), gives `default`
    with confidence 0; callers treat a low confidence as "the shop's own language"."""
    cands = tuple(dict.fromkeys(normalize_locale(c) for c in (candidates or DEFAULT_CANDIDATES)))
    if len(cands) == 1:
        return Detection(cands[0], 1.0)
    if not any(ch.isalpha() for ch in text):
        return Detection(default, 0.0)
    scripted = _by_script(text, cands, default)
    if scripted is not None and scripted.language == "zh":
        return scripted
    detector = _lingua(cands)
    if detector is None:
        return scripted or Detection(default, 0.0)
    with _DETECTOR_LOCK:  # lingua's lazy model loading is not meant to race
        values = detector.compute_language_confidence_values(text)
    if not values:
        return Detection(default, 0.0)
    top = values[0]
    return Detection(top.language.iso_code_639_1.name.lower(), round(float(top.value), 3))


def message_language(
    text: str, locales: Sequence[str], *, min_confidence: float = 0.5, also: Sequence[str] = ("en",)
) -> str:
    """The language to treat a customer message as: the detected one when it is one of the shop's
    `locales` (or `also`, English by default, which most shops can read) and detection is at least
    `min_confidence` sure; else the shop's first locale. Short messages ("ok", a product code)
    are exactly where detectors guess, so they stay in the shop's language."""
    shop = [normalize_locale(x) for x in locales] or ["en"]
    candidates = list(dict.fromkeys([*shop, *(normalize_locale(a) for a in also)]))
    got = detect(text, candidates, default=shop[0])
    return got.language if got.confidence >= min_confidence else shop[0]


# ---------------------------------------------------------------- analyzers


def _words(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "de": _words(
        "der die das den dem des ein eine einen einem einer eines und oder aber ist sind war bin bist "
        "ich du er sie es wir ihr mich mir dich dir uns euch mein meine meinen meinem meiner dein deine "
        "ihre ihren sein seine nicht kein keine mit für von zu zum zur im in am an auf aus bei nach "
        "über unter um wie was wo wer wann warum welche welcher welches kann können könnte möchte "
        "will wollen habe haben hat hätte gibt es so auch noch nur sehr bitte hallo danke gerne etwas "
        "suche brauche zeigen zeig mal da dass wenn ob als"
    ),
    "fr": _words(
        "le la les un une des du de d l et ou mais est sont je tu il elle nous vous ils elles me mon ma "
        "mes ton ta votre vos leur pas ne avec pour dans sur au aux par en que qui quoi où comment "
        "quel quelle est-ce ce cet cette ces y a ai avez avons bonjour merci svp s'il plait veux "
        "voudrais cherche besoin"
    ),
    "es": _words(
        "el la los las un una unos unas de del y o pero es son soy yo tu tú él ella nosotros usted "
        "ustedes mi mis su sus no con para por en al que qué quien cómo como dónde donde cuál cual "
        "hay tienen tiene quiero necesito busco hola gracias por favor me te se lo le"
    ),
    "it": _words(
        "il lo la i gli le un uno una di del della dei delle e o ma è sono io tu lui lei noi voi loro "
        "mi ti mio mia miei mie suo sua non con per in nel nella su che chi come dove quale quanto "
        "avete ha ho voglio vorrei cerco ciao grazie per favore"
    ),
    "nl": _words(
        "de het een en of maar is zijn ben ik jij je u hij zij wij we mijn jouw uw niet geen met voor "
        "van te in op aan bij naar om wat waar wie hoe welke kan kunnen wil heb hebben heeft er dat "
        "die dit deze hallo bedankt graag zoek"
    ),
    "pt": _words(
        "o a os as um uma uns umas de do da dos das e ou mas é são sou eu tu ele ela nós vocês você "
        "meu minha meus minhas seu sua não com para por em no na nos nas que quem como onde qual "
        "têm tem quero preciso procuro olá obrigado obrigada me te se"
    ),
}
# Function words and shop-chat filler of Chinese messages (jieba keeps them as words).
ZH_STOPWORDS = _words(
    "的 了 吗 呢 吧 啊 呀 哦 嘛 么 我 你 您 他 她 它 我们 你们 他们 是 在 和 与 及 或 就 都 也 还 要 想 "
    "请 请问 一下 一个 一些 有 有没有 没有 吗 什么 怎么 怎样 如何 哪 哪里 哪儿 哪个 多少 几 这 那 这个 "
    "那个 个 把 被 让 给 对 从 到 可以 能 能不能 会 帮 帮我 麻烦 谢谢 你好 您好 买 找 推荐 需要 "
    "看看 一款 款 些"
)
_WORD_UNICODE = re.compile(r"[^\W_]+(?:['.][^\W_]+)*")
_JIEBA_LOCK = threading.Lock()


def _fold(text: str) -> str:
    """Lower-case in NFC, so a decomposed 'ü' from a supplier's file stems like a composed one."""
    return unicodedata.normalize("NFC", text).lower()


@cache
def _stemmer(algorithm: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(algorithm)


# Languages that write compounds as one word (Regenjacke, Schlafsack): their documents also index
# the word's tails, so the query "Jacke" finds the "Regenjacke".
COMPOUNDING = frozenset({"de", "nl", "sv", "da", "no", "nb"})


def compound_tails(stem: str, *, min_word: int = 8, min_tail: int = 4, min_head: int = 3) -> list[str]:
    """Every tail of a long stem that leaves a head of `min_head` letters and is at least
    `min_tail` long: regenjack -> genjack, enjack, njack, jack. Crude next to a dictionary
    splitter, but it needs no dictionary, and tails that are no word match no query."""
    if len(stem) < min_word:
        return []
    return [stem[i:] for i in range(min_head, len(stem) - min_tail + 1)]


def snowball_tokens(language: str, compounds: bool = False) -> Callable[[str], list[str]]:
    """Stemmed words without the language's stopwords, plus adjacent-word bigrams: the English
    analyzer's recipe with Unicode words (umlauts, accents) and that language's Snowball stemmer.
    `compounds` adds each long word's tails (documents only: a query keeps its own words); on the
    German sample set it lifted BM25 nDCG@10 from 0.922 to 0.957 (12 queries: one compound)."""
    stemmer = _stemmer(SNOWBALL[language])
    stop = _STOPWORDS.get(language, frozenset())

    def tokens(text: str) -> list[str]:
        words = [w for w in _WORD_UNICODE.findall(_fold(text)) if w not in stop]
        words = stemmer.stemWords(words)
        out = words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
        if compounds:
            out += [tail for w in words for tail in compound_tails(w)]
        return out

    return tokens


@lru_cache(maxsize=1)
def _jieba() -> Any:
    """A private jieba tokenizer (its dictionary ships in the package; the prefix dictionary is
    cached in the temp folder after the first build, ~1 s)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def jieba_available() -> bool:
    try:
        import jieba  # noqa: F401
    except ImportError:
        return False
    return True


_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def han_bigrams(text: str) -> list[str]:
    """Overlapping character pairs inside each run of Han characters (a lone character stays
    itself), stopwords left out: they match a word jieba's dictionary splits differently in the
    query and the product (电饭锅 / 电饭煲 share 电饭)."""
    out: list[str] = []
    for run in _HAN_RUN.findall(text):
        grams = [run[i : i + 2] for i in range(len(run) - 1)] or [run]
        out.extend(g for g in grams if g not in ZH_STOPWORDS)
    return out


def chinese_tokens(search_mode: bool = True, bigrams: bool = True) -> Callable[[str], list[str]]:
    """jieba words (search mode also emits the dictionary words inside a long word: 电饭煲 ->
    饭煲, 电饭煲) without stopwords and punctuation, plus Han character bigrams; Latin words
    inside Chinese text (brands, model numbers) go through the English analyzer, so "Anker" and
    "anker" are one token. On the Chinese demo set, search mode on both sides beat precise
    queries (BM25 nDCG@10 0.902 vs 0.863) and the bigrams added 0.016 more (0.918), FAQ
    routing by BM25 0.728 -> 0.789."""

    def tokens(text: str) -> list[str]:
        tokenizer = _jieba()
        folded = _fold(text)
        with _JIEBA_LOCK:
            words = list(tokenizer.cut_for_search(folded) if search_mode else tokenizer.cut(folded))
        out: list[str] = []
        for word in words:
            word = word.strip()
            if not word or word in ZH_STOPWORDS:
                continue
            if _HAN.search(word):
                out.append(word)
            elif _WORD_UNICODE.fullmatch(word):
                out.extend(t for t in lexical_tokens(word) if "_" not in t)
        # Prefixed apart from words: the word 电饭 and the bigram 电饭 are different evidence.
        return out + [f"#{g}" for g in han_bigrams(folded)] if bigrams else out

    return tokens


@dataclass(frozen=True)
class Analyzer:
    """How one lexical index turns documents and queries into BM25 terms.

    `name` goes into the saved index's fingerprint, so an index built by another analyzer is
    rebuilt, never read with the wrong terms; the English analyzer's name is empty, which keeps
    every index saved before languages existed valid."""

    name: str
    document: Callable[[str], list[str]]
    query: Callable[[str], list[str]]

    def documents(self, docs: Sequence[str]) -> list[list[str]]:
        return [self.document(d) for d in docs]


ENGLISH = Analyzer("", lexical_tokens, lexical_tokens)


def language_analyzer(language: str) -> Analyzer:
    """The analyzer of one language: English exactly as before, Chinese by jieba (search-mode
    words and character bigrams for documents and queries alike: it measured best on the Chinese
    demo set), the others by their Snowball stemmer (compounding languages with word tails)."""
    language = normalize_locale(language)
    if language == "en":
        return ENGLISH
    if language == "zh":
        tokens = chinese_tokens()
        return Analyzer("zh-jieba-bigram", tokens, tokens)
    query = snowball_tokens(language)
    if language in COMPOUNDING:
        return Analyzer(f"{language}-snowball-compound", snowball_tokens(language, compounds=True), query)
    return Analyzer(f"{language}-snowball", query, query)


def multilingual_analyzer(
    locales: Sequence[str], *, min_confidence: float = 0.5, detector: Callable[[str], Detection] | None = None
) -> Analyzer:
    """One BM25 field per language for a shop with several locales: a document is analyzed in its
    detected language and its terms are prefixed with it ("de:wanderschuh"); a query in a
    confidently detected language searches that language's field, an ambiguous one ("Nike",
    "4K") every field."""
    langs = tuple(dict.fromkeys(normalize_locale(x) for x in locales))
    analyzers = {code: language_analyzer(code) for code in langs}

    def which(text: str) -> Detection:
        return detector(text) if detector else detect(text, langs, default=langs[0])

    def document(text: str) -> list[str]:
        code = which(text).language
        code = code if code in analyzers else langs[0]
        return [f"{code}:{t}" for t in analyzers[code].document(text)]

    def query(text: str) -> list[str]:
        got = which(text)
        codes = [got.language] if got.confidence >= min_confidence and got.language in analyzers else langs
        return list(dict.fromkeys(f"{code}:{t}" for code in codes for t in analyzers[code].query(text)))

    return Analyzer("multi-" + "+".join(langs), document, query)


def shop_analyzer(locales: Sequence[str] | str | None) -> Analyzer:
    """The analyzer a shop's lexical indexes use: English for no locale or 'en' (byte-identical to
    the analyzer before languages existed), the locale's own for one, one field per language for
    several."""
    if locales is None:
        return ENGLISH
    if isinstance(locales, str):
        locales = [p for p in re.split(r"[,\s]+", locales) if p]
    langs = list(dict.fromkeys(normalize_locale(x) for x in locales))
    if not langs:
        return ENGLISH
    if len(langs) == 1:
        return language_analyzer(langs[0])
    return multilingual_analyzer(langs)
