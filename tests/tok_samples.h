/* Tiny tokenizer files made at test time (no fixtures needed): a CLIP vocabulary and merges in both
 * layouts, and a T5 unigram model as spiece.model (protobuf written here) and as tokenizer.json.
 * Used by test_tokenizers and as the fuzz targets' fixed models and seeds. */
#pragma once

#include <stdbool.h>

/* CLIP: 512 byte symbols in OpenAI's order, these merges (ranks 0..14), then the two specials. */
#define TKS_CLIP_MERGES 15
#define TKS_CLIP_BOS (512 + TKS_CLIP_MERGES)
#define TKS_CLIP_EOS (TKS_CLIP_BOS + 1)
extern const char *const tks_clip_merges[TKS_CLIP_MERGES];
int tks_clip_byte_id(unsigned char byte, bool end_of_word); /* id of a byte symbol */
/* Writes dir/vocab.json, dir/merges.txt and dir/bpe_simple_vocab_16e6.txt.gz. */
bool tks_write_clip(const char *dir);

/* T5 pieces: <pad> </s> <unk> ▁ a b c ▁ab ab A ▁a <sep>(user-defined) zz(unused) A! AB!, then with
 * TKS_T5_BYTES the 256 byte pieces from id TKS_T5_FIRST_BYTE. The character map turns Ａ into A,
 * ＡＢ into AB!, tab into space, ﬁ into fi and deletes x. */
enum { TKS_T5_BYTES = 1, TKS_T5_NO_CHARSMAP = 2 };
enum {
    TKS_PAD,
    TKS_EOS,
    TKS_UNK,
    TKS_SPACE,
    TKS_A,
    TKS_B,
    TKS_C,
    TKS_SPACE_AB,
    TKS_AB,
    TKS_CAP_A,
    TKS_SPACE_A,
    TKS_SEP,
    TKS_ZZ,
    TKS_A_BANG,
    TKS_AB_BANG,
    TKS_T5_FIRST_BYTE
};
bool tks_write_t5_model(const char *path, unsigned flags);
bool tks_write_t5_json(const char *path, unsigned flags);
