// The tokenizer.json components one by one: regexes with Oniguruma's meaning, normalizers,
// pre-tokenizers and decoders. Expected values are HF tokenizers' own unit-test cases (split.rs,
// digits.rs, byte_level.rs, metaspace.rs, byte_fallback.rs, strip.rs) or follow from the Rust source
// where the comment says so.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "io/errors.hpp"
#include "io/tokenizer_pipeline.hpp"
#include "io/tokenizer_regex.hpp"

namespace {

using namespace ttlm::io::tokenizer_impl;
using nlohmann::json;
using Strings = std::vector<std::string>;
using Ranges = std::vector<std::pair<size_t, size_t>>;

JsonField field(const json& config) { return JsonField(config, "test.json", "component"); }

Strings pre_tokenize(const json& config, const std::string& text, bool at_text_start = true) {
    const auto pre_tokenizer = make_pre_tokenizer(field(config));
    Pieces pieces{{text, at_text_start}};
    pre_tokenizer->pre_tokenize(pieces);
    Strings out;
    for (const Piece& piece : pieces) out.push_back(piece.text);
    return out;
}

std::string normalize(const json& config, const std::string& text) {
    Piece piece{text, true};
    make_normalizer(field(config))->normalize(piece);
    return piece.text;
}

std::string decode(const json& config, Strings tokens) {
    make_decoder(field(config))->decode_chain(tokens);
    std::string out;
    for (const std::string& part : tokens) out += part;
    return out;
}

Ranges find_all(const std::string& pattern, const std::string& text) {
    Ranges matches;
    Regex(pattern, "test pattern").find_all(text, matches);
    return matches;
}

json split(const json& pattern, const std::string& behavior, bool invert = false) {
    return {{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}};
}

// ---------------------------------------------------------------------------------------------
// Regexes

TEST(TokenizerRegex, WhitespaceIsOnigurumasWhiteSpace) {
    EXPECT_EQ(find_all("\\s+",
                       "a\xC2\x85"
                       "b"),
              (Ranges{{1, 3}}));  // U+0085 NEL is \s
    EXPECT_EQ(find_all("\\s+",
                       "a\xE1\xA0\x8E"
                       "b"),
              Ranges{});  // U+180E is not (PCRE2 says it is)
    EXPECT_EQ(find_all("\\s+",
                       "a\xEF\xBB\xBF"
                       "b"),
              Ranges{});                                                   // U+FEFF is not (JavaScript says it is)
    EXPECT_EQ(find_all("\\s+", "a\xE3\x80\x80\t\n b"), (Ranges{{1, 7}}));  // U+3000, tab, newline, space
    EXPECT_EQ(find_all("[^\\s\\p{L}]+", "ab 12\xC2\x85!"), (Ranges{{3, 5}, {7, 8}}));  // \s inside a class
    EXPECT_EQ(find_all("a\\S", "a\xC2\x85 ab"), (Ranges{{4, 6}}));
}

TEST(TokenizerRegex, WordAndHexEscapesMeanWhatOnigurumaMeans) {
    EXPECT_EQ(find_all("\\w+",
                       "a\xCC\x81"
                       "b c"),
              (Ranges{{0, 4}, {5, 6}}));                              // marks are word characters
    EXPECT_EQ(find_all("\\w+", "x\xE2\x80\xBFy"), (Ranges{{0, 5}}));  // so is U+203F (Pc)
    EXPECT_EQ(find_all("\\W+", "ab, c"), (Ranges{{2, 4}}));
    EXPECT_EQ(find_all("\\h+", "f00d xyz \t"), (Ranges{{0, 4}}));  // hex digits, not blanks
    EXPECT_EQ(find_all("\\u00e9", "caf\xC3\xA9"), (Ranges{{3, 5}}));
    EXPECT_EQ(find_all("a\\vb",
                       "a\x0B"
                       "b"),
              (Ranges{{0, 3}}));
    EXPECT_EQ(find_all("^x", "x\nx"), (Ranges{{0, 1}, {2, 3}}));  // ^ and $ are line anchors
    EXPECT_EQ(find_all("x$", "x\nx"), (Ranges{{0, 1}, {2, 3}}));
    EXPECT_EQ(find_all("[]a]+", "]a]b"), (Ranges{{0, 3}}));
}

TEST(TokenizerRegex, EmptyMatchesFollowTheOnigCrate) {
    // An empty match right where the previous match ended is skipped; elsewhere it counts.
    EXPECT_EQ(find_all("x*", "abc"), (Ranges{{0, 0}, {1, 1}, {2, 2}, {3, 3}}));
    EXPECT_EQ(find_all("a*", "baa"), (Ranges{{0, 0}, {1, 3}}));
    EXPECT_EQ(find_all("a*", ""), (Ranges{{0, 0}}));
}

TEST(TokenizerRegex, UntranslatableSyntaxIsRejectedByName) {
    const auto message = [](const std::string& pattern) {
        try {
            Regex(pattern, "test.json: pre_tokenizer.pattern.Regex");
        } catch (const ttlm::io::FormatError& error) {
            return std::string(error.what());
        }
        return std::string("accepted");
    };
    EXPECT_NE(message("[a[b]]").find("nested character class"), std::string::npos);
    EXPECT_NE(message("[a&&b]").find("&&"), std::string::npos);
    EXPECT_NE(message("[\\W]").find("\\W inside"), std::string::npos);
    EXPECT_NE(message("(unclosed").find("test.json: pre_tokenizer.pattern.Regex: invalid regular expression"),
              std::string::npos);
}

TEST(TokenizerRegex, DeepSeekPatternSplitsAsHfDoes) {
    // The research note's example, checked against HF; the first pre-tokenizers of DeepSeek-V3
    // (digits, CJK runs) are not applied here.
    const json deepseek_main =
        split({{"Regex",
                "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
                "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
              "Isolated");
    EXPECT_EQ(pre_tokenize(deepseek_main, " tokens.\n\n  naïve café — 深度求索\tend.[Ab] x"),
              (Strings{" tokens", ".\n\n", " ", " naïve", " café", " —", " 深度求索", "\tend", ".[", "Ab", "]", " x"}));
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers

TEST(TokenizerPreTokenizers, SplitBehaviorsOnALiteral) {
    const json dash = {{"String", "-"}};
    const std::string text = "the-final--countdown";
    EXPECT_EQ(pre_tokenize(split(dash, "Removed"), text), (Strings{"the", "final", "countdown"}));
    EXPECT_EQ(pre_tokenize(split(dash, "Isolated"), text), (Strings{"the", "-", "final", "-", "-", "countdown"}));
    EXPECT_EQ(pre_tokenize(split(dash, "MergedWithPrevious"), text), (Strings{"the-", "final-", "-", "countdown"}));
    EXPECT_EQ(pre_tokenize(split(dash, "MergedWithNext"), text), (Strings{"the", "-final", "-", "-countdown"}));
    EXPECT_EQ(pre_tokenize(split(dash, "Contiguous"), text), (Strings{"the", "-", "final", "--", "countdown"}));
    EXPECT_EQ(pre_tokenize(split({{"String", ""}}, "Removed"), text),
              (Strings{text}));  // an empty literal matches nothing
}

TEST(TokenizerPreTokenizers, SplitBehaviorsOnAnInvertedRegex) {
    const json words = {{"Regex", "\\w+|[^\\w\\s]+"}};
    const std::string text = "How are you doing?";
    EXPECT_EQ(pre_tokenize(split(words, "Removed", true), text), (Strings{"How", "are", "you", "doing", "?"}));
    EXPECT_EQ(pre_tokenize(split(words, "Isolated", true), text),
              (Strings{"How", " ", "are", " ", "you", " ", "doing", "?"}));
    EXPECT_EQ(pre_tokenize(split(words, "MergedWithPrevious", true), text),
              (Strings{"How ", "are ", "you ", "doing", "?"}));
    EXPECT_EQ(pre_tokenize(split(words, "MergedWithNext", true), text),
              (Strings{"How", " are", " you", " doing", "?"}));
    EXPECT_EQ(pre_tokenize(split(words, "Contiguous", true), text),
              (Strings{"How", " ", "are", " ", "you", " ", "doing?"}));
    EXPECT_EQ(pre_tokenize(split(words, "Removed", false), text), (Strings{" ", " ", " "}));
}

TEST(TokenizerPreTokenizers, SplitOnUnicodeWhitespace) {
    const json spaces = split({{"Regex", "\\s+"}}, "Removed");
    EXPECT_EQ(pre_tokenize(spaces,
                           "a\xC2\x85"
                           "b\xC2\xA0"
                           "c"),
              (Strings{"a", "b", "c"}));
    EXPECT_EQ(pre_tokenize(spaces,
                           "a\xE1\xA0\x8E"
                           "b"),
              (Strings{"a\xE1\xA0\x8E"
                       "b"}));
}

TEST(TokenizerPreTokenizers, Digits) {
    const json contiguous = {{"type", "Digits"}, {"individual_digits", false}};
    const json individual = {{"type", "Digits"}, {"individual_digits", true}};
    EXPECT_EQ(pre_tokenize(contiguous, "Hey 123 friend!"), (Strings{"Hey ", "123", " friend!"}));
    EXPECT_EQ(pre_tokenize(individual, "Hey 123 friend!"), (Strings{"Hey ", "1", "2", "3", " friend!"}));
    // Rust's char::is_numeric: Nd, Nl and No.
    EXPECT_EQ(pre_tokenize(contiguous, "x٣½Ⅻy"), (Strings{"x", "٣½Ⅻ", "y"}));
}

TEST(TokenizerPreTokenizers, ByteLevel) {
    const json plain = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    EXPECT_EQ(pre_tokenize(plain, "Hello my friend, how is your day going?"),
              (Strings{"Hello", "Ġmy", "Ġfriend", ",", "Ġhow", "Ġis", "Ġyour", "Ġday", "Ġgoing", "?"}));
    EXPECT_EQ(pre_tokenize(plain, "Hello there\nHello there"), (Strings{"Hello", "Ġthere", "Ċ", "Hello", "Ġthere"}));
    EXPECT_EQ(pre_tokenize(plain, "Hello there       dear"), (Strings{"Hello", "Ġthere", "ĠĠĠĠĠĠ", "Ġdear"}));
    EXPECT_EQ(pre_tokenize(plain, "i⭢j"), (Strings{"i", "âŃ¢", "j"}));
    EXPECT_EQ(pre_tokenize(plain, "it's"), (Strings{"it", "'s"}));
    const json prefixed = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
    EXPECT_EQ(pre_tokenize(prefixed, "Hello my"), (Strings{"ĠHello", "Ġmy"}));
    EXPECT_EQ(pre_tokenize(prefixed, " Hello my"), (Strings{"ĠHello", "Ġmy"}));
    const json whole = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", false}};
    EXPECT_EQ(pre_tokenize(whole, "Hello my friend, how?"), (Strings{"ĠHelloĠmyĠfriend,Ġhow?"}));
}

TEST(TokenizerPreTokenizers, Metaspace) {
    const auto metaspace = [](const std::string& scheme, bool split_words) {
        return json{{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", scheme}, {"split", split_words}};
    };
    EXPECT_EQ(pre_tokenize(metaspace("always", true), "Hey friend!"), (Strings{"▁Hey", "▁friend!"}));
    EXPECT_EQ(pre_tokenize(metaspace("always", true), "Hey   friend!"), (Strings{"▁Hey", "▁", "▁", "▁friend!"}));
    EXPECT_EQ(pre_tokenize(metaspace("always", false), "Hey friend!"), (Strings{"▁Hey▁friend!"}));
    EXPECT_EQ(pre_tokenize(metaspace("never", true), "Hey friend!"), (Strings{"Hey", "▁friend!"}));
    // "first" prepends only to the piece that starts the input.
    EXPECT_EQ(pre_tokenize(metaspace("first", true), "Hey friend!", true), (Strings{"▁Hey", "▁friend!"}));
    EXPECT_EQ(pre_tokenize(metaspace("first", true), "Hey friend!", false), (Strings{"Hey", "▁friend!"}));
    // Legacy form: add_prefix_space without prepend_scheme.
    const json legacy = {{"type", "Metaspace"}, {"replacement", "▁"}, {"add_prefix_space", false}};
    EXPECT_EQ(pre_tokenize(legacy, "Hey friend!"), (Strings{"Hey", "▁friend!"}));
}

TEST(TokenizerPreTokenizers, SequenceAppliesInOrder) {
    const json sequence = {
        {"type", "Sequence"},
        {"pretokenizers", {split({{"String", " "}}, "Removed"), {{"type", "Digits"}, {"individual_digits", true}}}}};
    EXPECT_EQ(pre_tokenize(sequence, "ab12 c3"), (Strings{"ab", "1", "2", "c", "3"}));
}

// ---------------------------------------------------------------------------------------------
// Normalizers

TEST(TokenizerNormalizers, UnicodeForms) {
    EXPECT_EQ(normalize({{"type", "NFC"}}, "cafe\xCC\x81"), "caf\xC3\xA9");
    EXPECT_EQ(normalize({{"type", "NFD"}}, "caf\xC3\xA9"), "cafe\xCC\x81");
    EXPECT_EQ(normalize({{"type", "NFKC"}}, "\xEF\xAC\x81①"), "fi1");
    EXPECT_EQ(normalize({{"type", "NFKD"}}, "\xEF\xAC\x81\xC3\xA9"), "fie\xCC\x81");
    EXPECT_EQ(normalize({{"type", "NFC"}}, "plain ascii"), "plain ascii");
}

TEST(TokenizerNormalizers, LowercaseIsRustsPerCharacterLowercase) {
    // No final-sigma rule; U+0130 lowercases to "i" + U+0307.
    EXPECT_EQ(normalize({{"type", "Lowercase"}}, "ΟΔΟΣ ABC İ"), "οδοσ abc i\xCC\x87");
}

TEST(TokenizerNormalizers, StripReplacePrependAccents) {
    EXPECT_EQ(normalize({{"type", "Strip"}, {"strip_left", true}, {"strip_right", false}}, "  a b  "), "a b  ");
    EXPECT_EQ(normalize({{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}}, "  a b  "), "  a b");
    EXPECT_EQ(normalize({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                        "\xE3\x80\x80"
                        "a\xC2\x85"),
              "a");
    EXPECT_EQ(normalize({{"type", "StripAccents"}},
                        "e\xCC\x81"
                        "a\xCC\x88!"),
              "ea!");
    EXPECT_EQ(normalize({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}, "a b  c"), "a▁b▁▁c");
    EXPECT_EQ(normalize({{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", "_"}}, "a \t b"), "a_b");
    EXPECT_EQ(normalize({{"type", "Prepend"}, {"prepend", "▁"}}, "ab"), "▁ab");
    EXPECT_EQ(normalize({{"type", "Prepend"}, {"prepend", "▁"}}, ""), "");
    const json llama = {{"type", "Sequence"},
                        {"normalizers",
                         {{{"type", "Prepend"}, {"prepend", "▁"}},
                          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
    EXPECT_EQ(normalize(llama, "Hey friend"), "▁Hey▁friend");
}

TEST(TokenizerNormalizers, TrackWhetherThePieceStillStartsTheText) {
    // HF's alignments: a piece starts the input only while its first character is the input's first.
    const auto starts = [](const json& config, const std::string& text) {
        Piece piece{text, true};
        make_normalizer(field(config))->normalize(piece);
        return piece.at_text_start;
    };
    EXPECT_FALSE(starts({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}, "  a"));
    EXPECT_TRUE(starts({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}, "a  "));
    EXPECT_TRUE(starts({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}, " a"));
    EXPECT_FALSE(starts({{"type", "Replace"}, {"pattern", {{"String", "  "}}}, {"content", "▁"}}, "  a"));
    EXPECT_FALSE(starts({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", ""}}, " a"));
    EXPECT_TRUE(starts({{"type", "NFC"}}, "e\xCC\x81"));
}

// ---------------------------------------------------------------------------------------------
// Decoders

TEST(TokenizerDecoders, ByteLevel) {
    const json byte_level = {{"type", "ByteLevel"}};
    EXPECT_EQ(decode(byte_level, {"Hello", "Ġmy", "Ġfriend", ",", "Ġhow"}), "Hello my friend, how");
    EXPECT_EQ(decode(byte_level, {"æ"}), "\xEF\xBF\xBD");                   // a lone lead byte
    EXPECT_EQ(decode(byte_level, {"æ", "·", "±"}), "深");                   // E6 B7 B1 across tokens
    EXPECT_EQ(decode(byte_level, {"Ġa", "<｜x｜>", "Ġb"}), " a<｜x｜> b");  // not in the alphabet: verbatim
    EXPECT_EQ(decode(byte_level, {"ðŁ", "Ġ"}), "\xEF\xBF\xBD ");            // F0 9F then a space: one U+FFFD
}

TEST(TokenizerDecoders, Metaspace) {
    const json always = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}};
    const json never = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "never"}};
    EXPECT_EQ(decode(always, {"▁Hey", "▁friend!"}), "Hey friend!");
    EXPECT_EQ(decode(never, {"▁Hey", "▁friend!"}), " Hey friend!");
}

TEST(TokenizerDecoders, ByteFallbackFuseStripReplace) {
    const json fallback = {{"type", "ByteFallback"}};
    EXPECT_EQ(decode(fallback, {"Hey", "friend!"}), "Heyfriend!");
    EXPECT_EQ(decode(fallback, {"<0x61>"}), "a");
    EXPECT_EQ(decode(fallback, {"<0xE5>"}), "\xEF\xBF\xBD");
    EXPECT_EQ(decode(fallback, {"<0xE5>", "<0x8f>"}), "\xEF\xBF\xBD\xEF\xBF\xBD");  // one U+FFFD per byte
    EXPECT_EQ(decode(fallback, {"<0xE5>", "<0x8f>", "<0xab>", "a"}), "叫a");
    EXPECT_EQ(decode(fallback, {"<0xE5>", "<0x8f>", "a"}),
              "\xEF\xBF\xBD\xEF\xBF\xBD"
              "a");
    EXPECT_EQ(decode(fallback, {"<0xZZ>"}), "<0xZZ>");
    EXPECT_EQ(decode({{"type", "Strip"}, {"content", "H"}, {"start", 1}, {"stop", 0}}, {"Hey", " friend!", "HHH"}),
              "ey friend!HH");
    EXPECT_EQ(decode({{"type", "Strip"}, {"content", "y"}, {"start", 0}, {"stop", 1}}, {"Hey", " friend!"}),
              "He friend!");
    const json llama = {{"type", "Sequence"},
                        {"decoders",
                         {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                          {{"type", "ByteFallback"}},
                          {{"type", "Fuse"}},
                          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
    EXPECT_EQ(decode(llama, {"▁Hey", "▁friend", "<0x21>", "▁", "<0xE5>", "<0x8f>", "<0xab>"}), "Hey friend! 叫");
}

TEST(TokenizerComponents, UnknownTypesAreRejectedByName) {
    const auto message = [](auto make, const json& config) {
        try {
            make(field(config));
        } catch (const ttlm::io::FormatError& error) {
            return std::string(error.what());
        }
        return std::string("accepted");
    };
    EXPECT_EQ(message(make_normalizer, {{"type", "Precompiled"}}),
              "test.json: component: normalizer type \"Precompiled\" is not supported");
    EXPECT_EQ(message(make_pre_tokenizer, {{"type", "Whitespace"}}),
              "test.json: component: pre-tokenizer type \"Whitespace\" is not supported");
    EXPECT_EQ(message(make_decoder, {{"type", "WordPiece"}}),
              "test.json: component: decoder type \"WordPiece\" is not supported");
    EXPECT_EQ(message(make_post_processor, {{"type", "Bogus"}}),
              "test.json: component: post-processor type \"Bogus\" is not supported");
    EXPECT_NE(
        message(make_pre_tokenizer, split({{"String", "-"}}, "Sideways")).find("component.behavior: expected one of"),
        std::string::npos);
    EXPECT_NE(
        message(make_pre_tokenizer, split({{"Glob", "*"}}, "Removed")).find("component.pattern: expected an object"),
        std::string::npos);
    EXPECT_NE(message(make_decoder, {{"type", "Metaspace"}, {"replacement", "ab"}}).find("component.replacement"),
              std::string::npos);
    EXPECT_NE(message(make_normalizer, {{"type", "Strip"}, {"strip_left", "yes"}, {"strip_right", true}})
                  .find("component.strip_left: expected a boolean, got a string"),
              std::string::npos);
    EXPECT_EQ(message(make_normalizer, {{"kind", "NFC"}}), "test.json: component.type is missing");
}

}  // namespace
