import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli.errors import CheckpointError
from rnncli.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, load_tokenizer, train_tokenizer

TRAINING = ["the quick brown fox jumps over the lazy dog", "Pack my box with five dozen liquor jugs!",
            "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.", "0123456789 ,.;:?'\"()-"]
ALPHABET = sorted(set("".join(TRAINING)) | {" ", "\n"})


@pytest.fixture(scope="module")
def tokenizers():
    corpus = TRAINING * 20
    return {
        "char": train_tokenizer("char", ["\n".join(corpus)]),
        "unigram": train_tokenizer("unigram", corpus, 400),
        "bpe": train_tokenizer("bpe", corpus, 400),
    }


@pytest.mark.parametrize("kind", ["char", "unigram", "bpe"])
@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=80))
def test_round_trip_over_training_alphabet(tokenizers, kind, text):
    tok = tokenizers[kind]
    assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize("kind", ["unigram", "bpe"])
@settings(max_examples=60, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\u2581"), max_size=40))
def test_sentencepiece_round_trip_of_any_text_through_byte_fallback(tokenizers, kind, text):
    tok = tokenizers[kind]
    assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize("kind", ["char", "word", "unigram", "bpe"])
def test_special_ids_and_save_load(tmp_path, kind):
    tok = train_tokenizer(kind, TRAINING * 20, 400 if kind in ("unigram", "bpe") else None)
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert [tok.id_to_piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    tok.save(tmp_path)
    again = load_tokenizer(tmp_path)
    assert again.vocab_size == tok.vocab_size
    text = TRAINING[0]
    assert again.encode(text) == tok.encode(text)


def test_word_tokenizer_min_freq_and_unknowns():
    tok = train_tokenizer("word", ["a a a b b c"], min_freq=2)
    assert tok.encode("a b c") == [tok.lookup("a"), tok.lookup("b"), UNK_ID]
    assert tok.decode(tok.encode("a  b")) == "a b"


def test_char_unknown_is_unk():
    tok = train_tokenizer("char", ["abc"])
    assert tok.encode("abz") == [tok.lookup("a"), tok.lookup("b"), UNK_ID]
    assert tok.decode(tok.encode("abz")) == "ab\ufffd"


def test_vocab_size_caps_char_vocabulary():
    tok = train_tokenizer("char", ["aaaabbbcc d"], vocab_size=6)
    assert tok.vocab_size == 6
    assert tok.symbols[4:] == ["a", "b"]


def test_damaged_tokenizer_is_a_checkpoint_error(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="tokenizer"):
        load_tokenizer(tmp_path)
    with pytest.raises(CheckpointError, match="missing"):
        load_tokenizer(tmp_path / "nowhere")
