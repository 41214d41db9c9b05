// Whole tokenizers built from small hand-made tokenizer.json files: BPE merge order and options,
// added tokens (HF's own added_vocabulary.rs cases), post-processing and tokenizer_config.json, and
// the errors a malformed file gets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

#include "io/errors.hpp"
#include "io/tokenizer.hpp"

namespace {

using nlohmann::json;
using ttlm::io::FormatError;
using ttlm::io::Tokenizer;
using Strings = std::vector<std::string>;
using Ids = std::vector<int64_t>;

const char* const kSource = "t/tokenizer.json";

json bpe(json vocab, json merges, json options = json::object()) {
    json model = {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}};
    model.update(options);
    return model;
}

json tokenizer_json(json model, json components = json::object()) {
    json root = {{"version", "1.0"},         {"added_tokens", json::array()}, {"normalizer", nullptr},
                 {"pre_tokenizer", nullptr}, {"model", std::move(model)},     {"post_processor", nullptr},
                 {"decoder", nullptr}};
    root.update(components);
    return root;
}

Tokenizer make(const json& root, const std::string& config = "") {
    return Tokenizer::from_json(root.dump(), config, kSource);
}

Strings tokens(const Tokenizer& tokenizer, const std::string& text) {
    Strings out;
    for (int64_t id : tokenizer.encode(text, false)) out.push_back(tokenizer.id_to_token(id));
    return out;
}

const json kLetters = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"<unk>", 6}};

// GPT-2's byte-level alphabet, written out here independently of the library: printable Latin-1
// bytes stand for themselves, the others for U+0100 onwards in byte order.
std::string byte_char(int byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE);
    int code = byte;
    if (!printable) {
        code = 256;
        for (int b = 0; b < byte; ++b) {
            code += !((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE));
        }
    }
    std::string out;
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
    return out;
}

// A byte-level tokenizer whose vocabulary is the 256 bytes (id = byte value) and no merges, so
// every text survives encode and decode, and ids show exactly where added tokens were cut out.
json byte_tokenizer(json components = json::object()) {
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
    json root =
        tokenizer_json(bpe(vocab, json::array()),
                       {{"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}},
                        {"decoder", {{"type", "ByteLevel"}}}});
    root.update(components);
    return root;
}

Ids bytes(const std::string& text) {
    Ids ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
}

Ids join(std::initializer_list<Ids> parts) {
    Ids out;
    for (const Ids& part : parts) out.insert(out.end(), part.begin(), part.end());
    return out;
}

json added(const std::string& content, int64_t id, bool special, json flags = json::object()) {
    json token = {{"id", id},        {"content", content},     {"single_word", false}, {"lstrip", false},
                  {"rstrip", false}, {"normalized", !special}, {"special", special}};
    token.update(flags);
    return token;
}

const json kLowercase = {{"type", "Lowercase"}};

// ---------------------------------------------------------------------------------------------
// BPE

TEST(TokenizerBpe, MergesApplyLowestRankFirstThenLeftmost) {
    EXPECT_EQ(tokens(make(tokenizer_json(bpe(kLetters, {"b c", "a b"}))), "abc"), (Strings{"a", "bc"}));
    EXPECT_EQ(tokens(make(tokenizer_json(bpe(kLetters, {"a b", "b c"}))), "abc"), (Strings{"ab", "c"}));
    EXPECT_EQ(tokens(make(tokenizer_json(bpe(kLetters, {"a b", "b c", "ab c"}))), "abc"), (Strings{"abc"}));
    const json doubled = {{"a", 0}, {"aa", 1}};
    EXPECT_EQ(tokens(make(tokenizer_json(bpe(doubled, {"a a"}))), "aaa"), (Strings{"aa", "a"}));
    EXPECT_EQ(tokens(make(tokenizer_json(bpe(doubled, {"a a"}))), "aaaa"), (Strings{"aa", "aa"}));
}

TEST(TokenizerBpe, MergePairsAndMergeStringsAreTheSame) {
    const Tokenizer strings = make(tokenizer_json(bpe(kLetters, {"b c", "a b", "a bc"})));
    const Tokenizer pairs = make(tokenizer_json(
        bpe(kLetters, json::array({json::array({"b", "c"}), json::array({"a", "b"}), json::array({"a", "bc"})}))));
    for (const std::string text : {"abc", "abcabc", "cba", "bcab", "aabbcc"}) {
        EXPECT_EQ(strings.encode(text), pairs.encode(text)) << text;
    }
    EXPECT_EQ(tokens(pairs, "abcab"), (Strings{"abc", "ab"}));
    // merges.txt's header line is not a merge.
    EXPECT_EQ(tokens(make(tokenizer_json(bpe(kLetters, {"#version: 0.2", "a b"}))), "ab"), (Strings{"ab"}));
}

TEST(TokenizerBpe, ARepeatedMergeKeepsItsLastRank) {
    // HF collects the merges into a HashMap, so the later rank of a repeated pair wins.
    EXPECT_EQ(tokens(make(tokenizer_json(bpe(kLetters, {"a b", "b c", "a b"}))), "abc"), (Strings{"a", "bc"}));
}

TEST(TokenizerBpe, UnknownCharacters) {
    const auto with = [](json options) { return make(tokenizer_json(bpe(kLetters, {"a b"}, std::move(options)))); };
    EXPECT_EQ(tokens(with({{"unk_token", "<unk>"}}), "a€b"), (Strings{"a", "<unk>", "b"}));
    EXPECT_EQ(tokens(with({{"unk_token", "<unk>"}}), "a€€b"), (Strings{"a", "<unk>", "<unk>", "b"}));
    EXPECT_EQ(tokens(with({{"unk_token", "<unk>"}, {"fuse_unk", true}}), "a€€b"), (Strings{"a", "<unk>", "b"}));
    // Without an unk token HF drops the character, and its neighbours may then merge.
    EXPECT_EQ(tokens(with(json::object()), "a€b"), (Strings{"ab"}));
    const Tokenizer missing_unk = with({{"unk_token", "<nope>"}});
    EXPECT_EQ(tokens(missing_unk, "ab"), (Strings{"ab"}));
    EXPECT_THROW(missing_unk.encode("a€"), std::runtime_error);
}

TEST(TokenizerBpe, ByteFallback) {
    const json vocab = {{"<unk>", 0}, {"a", 1}, {"<0xE2>", 2}, {"<0x82>", 3}, {"<0xAC>", 4}};
    const json decoder = {{"type", "Sequence"}, {"decoders", {{{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}};
    const Tokenizer tokenizer = make(tokenizer_json(
        bpe(vocab, json::array(), {{"byte_fallback", true}, {"unk_token", "<unk>"}}), {{"decoder", decoder}}));
    EXPECT_EQ(tokens(tokenizer, "a€"), (Strings{"a", "<0xE2>", "<0x82>", "<0xAC>"}));
    EXPECT_EQ(tokens(tokenizer, "aé"), (Strings{"a", "<unk>"}));  // 0xC3 0xA9 have no byte tokens
    EXPECT_EQ(tokenizer.decode(tokenizer.encode("a€a")), "a€a");
    EXPECT_EQ(tokenizer.decode(Ids{1, 2, 3}), "a\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(TokenizerBpe, ContinuingSubwordPrefixAndEndOfWordSuffix) {
    const json prefixed = {{"a", 0}, {"##b", 1}, {"##c", 2}, {"ab", 3}, {"abc", 4}, {"b", 5}};
    const Tokenizer prefix =
        make(tokenizer_json(bpe(prefixed, {"a ##b", "ab ##c"}, {{"continuing_subword_prefix", "##"}})));
    EXPECT_EQ(tokens(prefix, "abc"), (Strings{"abc"}));
    EXPECT_EQ(tokens(prefix, "bb"), (Strings{"b", "##b"}));
    const json suffixed = {{"a", 0}, {"b", 1}, {"b</w>", 2}, {"ab</w>", 3}, {"a</w>", 4}};
    const Tokenizer suffix = make(tokenizer_json(bpe(suffixed, {"a b</w>"}, {{"end_of_word_suffix", "</w>"}})));
    EXPECT_EQ(tokens(suffix, "ab"), (Strings{"ab</w>"}));
    EXPECT_EQ(tokens(suffix, "ba"), (Strings{"b", "a</w>"}));
}

TEST(TokenizerBpe, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
    EXPECT_EQ(tokens(make(tokenizer_json(bpe(kLetters, {"a b"}))), "abc"), (Strings{"ab", "c"}));
    EXPECT_EQ(tokens(make(tokenizer_json(bpe(kLetters, {"a b"}, {{"ignore_merges", true}}))), "abc"), (Strings{"abc"}));
}

TEST(TokenizerBpe, DropoutIsRejectedUnlessZero) {
    EXPECT_NO_THROW(make(tokenizer_json(bpe(kLetters, {"a b"}, {{"dropout", 0.0}}))));
    EXPECT_THROW(make(tokenizer_json(bpe(kLetters, {"a b"}, {{"dropout", 0.1}}))), FormatError);
}

// ---------------------------------------------------------------------------------------------
// Added tokens

TEST(TokenizerAddedTokens, HfOptionsUseCase) {
    // added_vocabulary.rs options_use_cases: lstrip+rstrip, a normalized token, single_word.
    const json list = {added("my", 256, false, {{"lstrip", true}, {"rstrip", true}}), added("name", 257, false),
                       added("ony", 258, false, {{"single_word", true}}), added("[CLS]", 259, true),
                       added("[SEP]", 260, true)};
    const Tokenizer tokenizer = make(byte_tokenizer({{"normalizer", kLowercase}, {"added_tokens", list}}));
    EXPECT_EQ(tokenizer.encode("[CLS] My name is Anthony [SEP]", false),
              join({{259, 256, 257}, bytes(" is anthony "), {260}}));
    EXPECT_EQ(tokenizer.size(), 261);
}

TEST(TokenizerAddedTokens, SingleWord) {
    // added_vocabulary.rs test_single_word_is_correct.
    const json list = {added("<mask>", 256, false, {{"single_word", true}})};
    const Tokenizer tokenizer = make(byte_tokenizer({{"normalizer", kLowercase}, {"added_tokens", list}}));
    EXPECT_EQ(tokenizer.encode("<mask> My name <mask> A<mask> <mask>ony <mask>", false),
              join({{256}, bytes(" my name "), {256}, bytes(" a<mask> <mask>ony "), {256}}));
    // Punctuation is not a word character; a combining mark is.
    EXPECT_EQ(tokenizer.encode("<mask>, <mask>- \xCC\xB0<mask>", false),
              join({{256}, bytes(", "), {256}, bytes("- \xCC\xB0<mask>")}));
}

TEST(TokenizerAddedTokens, StripsUnicodeSpaceOnEitherSide) {
    // added_vocabulary.rs test_lstrip_unicode_space.
    const json list = {added("<mask>", 256, false, {{"lstrip", true}, {"rstrip", true}, {"single_word", true}})};
    const Tokenizer tokenizer = make(byte_tokenizer({{"normalizer", kLowercase}, {"added_tokens", list}}));
    EXPECT_EQ(tokenizer.encode("Hi <mask> there\t<mask>\t<mask>\xE2\x80\x80", false),
              join({bytes("hi"), {256}, bytes("there"), {256, 256}}));
}

TEST(TokenizerAddedTokens, LeftmostThenLongestAndNormalizedMatching) {
    const json list = {added("<a>", 256, true), added("<a><b>", 257, true), added("HELLO", 258, false)};
    const Tokenizer tokenizer = make(byte_tokenizer({{"normalizer", kLowercase}, {"added_tokens", list}}));
    EXPECT_EQ(tokenizer.encode("x<a><b>y<a>", false), join({bytes("x"), {257}, bytes("y"), {256}}));
    EXPECT_EQ(tokenizer.encode("<a><a><b>", false), (Ids{256, 257}));
    // A normalized token matches the normalized text; a special one only the text as given.
    EXPECT_EQ(tokenizer.encode("Say HeLLo", false), join({bytes("say "), {258}}));
    EXPECT_EQ(tokenizer.encode("<A>", false), bytes("<a>"));
}

TEST(TokenizerAddedTokens, DecodeSkipsOnlySpecialTokens) {
    const json list = {added("my", 256, false), added("[CLS]", 259, true)};
    const Tokenizer tokenizer = make(byte_tokenizer({{"added_tokens", list}}));
    const Ids ids = tokenizer.encode("[CLS]hi my", false);
    EXPECT_EQ(ids, join({{259}, bytes("hi "), {256}}));
    EXPECT_EQ(tokenizer.decode(ids), "[CLS]hi my");
    EXPECT_EQ(tokenizer.decode(ids, true), "hi my");
}

TEST(TokenizerAddedTokens, ATokenAlreadyInTheVocabularyKeepsItsId) {
    const Tokenizer tokenizer = make(byte_tokenizer({{"added_tokens", {added("a", 999, true)}}}));
    EXPECT_EQ(tokenizer.token_to_id("a"), 97);
    EXPECT_EQ(tokenizer.size(), 256);
    EXPECT_EQ(tokenizer.decode(tokenizer.encode("bab", false), true), "bb");  // "a" is now special
}

TEST(TokenizerAddedTokens, MetaspaceFirstDoesNotPrefixTextAfterAToken) {
    const json vocab = {{"<s>", 0}, {"▁", 1}, {"h", 2}, {"i", 3}, {"hi", 4}, {"▁hi", 5}};
    const auto with_scheme = [&](const std::string& scheme) {
        const json metaspace = {
            {"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", scheme}, {"split", true}};
        return make(tokenizer_json(
            bpe(vocab, {"h i", "▁ hi"}),
            {{"pre_tokenizer", metaspace}, {"decoder", metaspace}, {"added_tokens", {added("<s>", 0, true)}}}));
    };
    const Tokenizer first = with_scheme("first");
    EXPECT_EQ(first.encode("hi", false), (Ids{5}));
    EXPECT_EQ(first.encode("<s>hi", false), (Ids{0, 4}));
    EXPECT_EQ(first.decode(Ids{5, 5}), "hi hi");
    EXPECT_EQ(with_scheme("always").encode("<s>hi", false), (Ids{0, 5}));
}

TEST(TokenizerAddedTokens, LlamaTwoStylePipeline) {
    json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        vocab[name] = 3 + b;
    }
    vocab.update({{"▁", 259}, {"h", 260}, {"i", 261}, {"▁h", 262}, {"▁hi", 263}});
    const json root = tokenizer_json(
        bpe(vocab, {"▁ h", "▁h i"}, {{"byte_fallback", true}, {"unk_token", "<unk>"}, {"fuse_unk", true}}),
        {{"normalizer",
          {{"type", "Sequence"},
           {"normalizers",
            {{{"type", "Prepend"}, {"prepend", "▁"}},
             {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}}},
         {"post_processor",
          {{"type", "TemplateProcessing"},
           {"single",
            {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
           {"pair", json::array()},
           {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
         {"decoder",
          {{"type", "Sequence"},
           {"decoders",
            {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
             {{"type", "ByteFallback"}},
             {{"type", "Fuse"}},
             {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
         {"added_tokens", {added("<unk>", 0, true), added("<s>", 1, true), added("</s>", 2, true)}}});
    const Tokenizer tokenizer = make(root);
    EXPECT_EQ(tokenizer.encode("hi hi"), (Ids{1, 263, 263}));
    EXPECT_EQ(tokenizer.decode(Ids{1, 263, 263}), "<s> hi hi");
    EXPECT_EQ(tokenizer.decode(Ids{1, 263, 263}, true), "hi hi");
    const Ids accented = tokenizer.encode("hi é", false);
    EXPECT_EQ(accented, (Ids{263, 259, 3 + 0xC3, 3 + 0xA9}));
    EXPECT_EQ(tokenizer.decode(accented), "hi é");
}

// ---------------------------------------------------------------------------------------------
// Post-processing and tokenizer_config.json

const json kClsSep = {added("[CLS]", 259, true), added("[SEP]", 260, true)};

json cls_template() {
    return {{"type", "TemplateProcessing"},
            {"single",
             {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
              {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}}},
            {"pair", json::array()},
            {"special_tokens",
             {{"[CLS]", {{"id", "[CLS]"}, {"ids", {259}}, {"tokens", {"[CLS]"}}}},
              {"[SEP]", {{"id", "[SEP]"}, {"ids", {260}}, {"tokens", {"[SEP]"}}}}}}};
}

TEST(TokenizerPostProcessing, TemplateRobertaAndSequence) {
    const Tokenizer templated = make(byte_tokenizer({{"added_tokens", kClsSep}, {"post_processor", cls_template()}}));
    EXPECT_EQ(templated.encode("ab"), (Ids{259, 97, 98, 260}));
    EXPECT_EQ(templated.encode("ab", false), (Ids{97, 98}));
    const json roberta = {{"type", "RobertaProcessing"},
                          {"sep", {"[SEP]", 260}},
                          {"cls", {"[CLS]", 259}},
                          {"trim_offsets", true},
                          {"add_prefix_space", false}};
    EXPECT_EQ(make(byte_tokenizer({{"added_tokens", kClsSep}, {"post_processor", roberta}})).encode("a"),
              (Ids{259, 97, 260}));
    const json sequence = {{"type", "Sequence"},
                           {"processors", {{{"type", "ByteLevel"}, {"trim_offsets", false}}, cls_template()}}};
    EXPECT_EQ(make(byte_tokenizer({{"added_tokens", kClsSep}, {"post_processor", sequence}})).encode("a"),
              (Ids{259, 97, 260}));
}

TEST(TokenizerPostProcessing, ConfigBosAndEosReplaceThePostProcessor) {
    const json root = byte_tokenizer({{"added_tokens", kClsSep}, {"post_processor", cls_template()}});
    const std::string both = R"({"add_bos_token": true, "add_eos_token": true, "bos_token": "[CLS]",
                                 "eos_token": {"__type": "AddedToken", "content": "[SEP]"}})";
    const Tokenizer with_both = make(root, both);
    EXPECT_EQ(with_both.encode("a"), (Ids{259, 97, 260}));
    EXPECT_EQ(with_both.bos_id(), 259);
    EXPECT_EQ(with_both.eos_id(), 260);
    const Tokenizer bos_only = make(root, R"({"add_bos_token": true, "add_eos_token": false, "bos_token": "[SEP]"})");
    EXPECT_EQ(bos_only.encode("a"), (Ids{260, 97}));
    const Tokenizer neither = make(root, R"({"add_bos_token": false, "bos_token": "[CLS]"})");
    EXPECT_EQ(neither.encode("a"), (Ids{97}));
    EXPECT_EQ(neither.bos_id(), 259);
    // A config that says nothing about BOS/EOS leaves the file's template in charge.
    EXPECT_EQ(make(root, R"({"model_max_length": 8})").encode("a"), (Ids{259, 97, 260}));
}

TEST(TokenizerPostProcessing, CleanUpTokenizationSpaces) {
    const std::string text = "Hello , world . It 's fine , is n't it ?";
    EXPECT_EQ(
        make(byte_tokenizer(), R"({"clean_up_tokenization_spaces": true})").decode(make(byte_tokenizer()).encode(text)),
        "Hello, world. It's fine, isn't it?");
    EXPECT_EQ(make(byte_tokenizer(), R"({"clean_up_tokenization_spaces": false})")
                  .decode(make(byte_tokenizer()).encode(text)),
              text);
}

TEST(TokenizerPostProcessing, NoDecoderJoinsTokensWithSpaces) {
    const Tokenizer tokenizer = make(tokenizer_json(bpe(kLetters, {"a b"})));
    EXPECT_EQ(tokenizer.decode(tokenizer.encode("abcab")), "ab c ab");
}

// ---------------------------------------------------------------------------------------------
// Malformed files

std::string load_error(const std::string& tokenizer_text, const std::string& config = "") {
    try {
        Tokenizer::from_json(tokenizer_text, config, kSource);
    } catch (const FormatError& error) {
        return error.what();
    }
    return "accepted";
}

std::string load_error(const json& root, const std::string& config = "") { return load_error(root.dump(), config); }

#define EXPECT_MESSAGE(message, expected) EXPECT_NE((message).find(expected), std::string::npos) << (message)

TEST(TokenizerErrors, TokenizerJsonNamesTheFieldAtFault) {
    const json good = tokenizer_json(bpe(kLetters, {"a b"}));
    EXPECT_EQ(load_error(good), "accepted");
    EXPECT_MESSAGE(load_error(std::string("{\"model\": {")), "t/tokenizer.json: invalid JSON");
    EXPECT_MESSAGE(load_error(std::string("")), "t/tokenizer.json: invalid JSON");
    EXPECT_MESSAGE(load_error(json::array()), "t/tokenizer.json: expected a JSON object, got an array");
    EXPECT_EQ(load_error(json{{"version", "1.0"}}), "t/tokenizer.json: model is missing");

    const auto with_model = [&](const std::string& key, json value) {
        json root = good;
        root["model"][key] = std::move(value);
        return load_error(root);
    };
    EXPECT_MESSAGE(with_model("type", "WordPiece"), "model type \"WordPiece\" is not supported");
    EXPECT_MESSAGE(with_model("vocab", json::array()), "t/tokenizer.json: model.vocab: expected an object");
    EXPECT_MESSAGE(with_model("vocab", {{"a", "x"}}), "model.vocab[\"a\"]: expected an integer, got a string");
    EXPECT_MESSAGE(with_model("vocab", {{"a", -1}}), "model.vocab[\"a\"]: expected an id in [0, 2^31)");
    EXPECT_MESSAGE(with_model("vocab", {{"a", 0}, {"b", 0}}), "model.vocab: id 0 is given to both \"a\" and \"b\"");
    EXPECT_MESSAGE(load_error(tokenizer_json(bpe({{"a", 2000000000}}, json::array()))),
                   "t/tokenizer.json: ids are too sparse: the largest id is 2000000000 for 1 tokens");
    EXPECT_MESSAGE(with_model("merges", {5}),
                   "model.merges[0]: expected a \"left right\" string or a [left, right] pair");
    EXPECT_MESSAGE(with_model("merges", {"a b c"}), "model.merges[0]: expected \"left right\"");
    EXPECT_MESSAGE(with_model("merges", json::array({json::array({"a"})})),
                   "model.merges[0]: expected a \"left right\" string");
    EXPECT_MESSAGE(with_model("merges", {"a z"}), "model.merges: merge \"a z\": \"z\" is not in model.vocab");
    EXPECT_MESSAGE(with_model("merges", {"c a"}), "\"ca\" is not in model.vocab");
    EXPECT_MESSAGE(with_model("merges", nullptr), "t/tokenizer.json: model.merges is null");
    EXPECT_MESSAGE(with_model("unk_token", 3), "model.unk_token: expected a string, got an integer");

    const auto with = [&](const std::string& key, json value) {
        json root = good;
        root[key] = std::move(value);
        return load_error(root);
    };
    EXPECT_MESSAGE(with("added_tokens", {{{"id", 5}}}), "added_tokens[0].content is missing");
    EXPECT_MESSAGE(with("added_tokens", {{{"id", "x"}, {"content", "zz"}}}), "added_tokens[0].id: expected an integer");
    EXPECT_MESSAGE(with("added_tokens", {added("zz", 7, true), added("yy", 7, true)}),
                   "added_tokens[1].id: expected an id not already given to \"zz\"");
    EXPECT_MESSAGE(with("added_tokens", json::object()), "added_tokens: expected an array");
    EXPECT_MESSAGE(with("pre_tokenizer", {{"type", "BertPreTokenizer"}}), "pre-tokenizer type \"BertPreTokenizer\"");
    EXPECT_MESSAGE(with("normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "BertNormalizer"}}}}}),
                   "t/tokenizer.json: normalizer.normalizers[0]: normalizer type \"BertNormalizer\" is not supported");
    EXPECT_MESSAGE(with("pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "(a"}}}, {"behavior", "Isolated"}}),
                   "pre_tokenizer.pattern.Regex: invalid regular expression \"(a\"");
    EXPECT_MESSAGE(
        with("post_processor",
             {{"type", "TemplateProcessing"}, {"single", json::array()}, {"special_tokens", json::object()}}),
        "post_processor.single: expected a template containing the sequence $A");
    EXPECT_EQ(with("post_processor", {{"type", "RobertaProcessing"}, {"sep", {"</s>", 2}}, {"cls", {"<s>", 99}}}),
              "t/tokenizer.json: post_processor: special token id 99 names no token");
}

TEST(TokenizerErrors, ConfigNamesTheFieldAtFault) {
    const json root = byte_tokenizer({{"added_tokens", kClsSep}});
    EXPECT_MESSAGE(load_error(root, "{"), "t/tokenizer_config.json: invalid JSON");
    EXPECT_MESSAGE(load_error(root, R"({"add_bos_token": true})"),
                   "t/tokenizer_config.json: bos_token is required when add_bos_token is true");
    EXPECT_MESSAGE(load_error(root, R"({"add_bos_token": true, "bos_token": "<s>"})"),
                   "t/tokenizer_config.json: bos_token \"<s>\" is not in the tokenizer's vocabulary");
    EXPECT_MESSAGE(load_error(root, R"({"add_bos_token": "yes", "bos_token": "[CLS]"})"),
                   "t/tokenizer_config.json: add_bos_token: expected a boolean, got a string");
    EXPECT_MESSAGE(load_error(root, R"({"add_eos_token": true, "eos_token": {"text": "[SEP]"}})"),
                   "t/tokenizer_config.json: eos_token.content is missing");
    EXPECT_MESSAGE(load_error(root, "[1]"), "t/tokenizer_config.json: expected a JSON object");
}

TEST(TokenizerErrors, EncodeAndDecodeArguments) {
    const Tokenizer tokenizer = make(byte_tokenizer());
    EXPECT_THROW(tokenizer.encode(std::string("abc\xFF")), std::invalid_argument);
    EXPECT_THROW(tokenizer.encode(std::string("\xED\xA0\x80")), std::invalid_argument);  // a surrogate
    EXPECT_THROW(tokenizer.encode(std::string("\xC0\x80")), std::invalid_argument);      // overlong NUL
    EXPECT_THROW(tokenizer.decode(Ids{256}), std::out_of_range);
    EXPECT_THROW(tokenizer.id_to_token(256), std::out_of_range);
    EXPECT_EQ(tokenizer.encode(std::string("a\0b", 3), false), (Ids{97, 0, 98}));  // NUL is a character
}

}  // namespace
