/* T5's SentencePiece unigram tokenizer through Debian's libsentencepiece (the reference library
 * itself: normalisation with the model's precompiled nmt_nfkc map, dummy prefix, Viterbi
 * segmentation, unknown-piece fusion all come from it, so ids match the reference exactly). This thin
 * shim is the engine's only C++: a hand-written parser of the protobuf and the Darts double-array
 * would duplicate a well-kept library (style.md: prefer Debian's libraries for formats). */
#include <sentencepiece_processor.h>

#include <cstring>
#include <string>
#include <sys/stat.h>
#include <vector>

extern "C" {
#include "tokenizer.h"
}

struct tok_t5 {
    sentencepiece::SentencePieceProcessor processor;
};

extern "C" enum lw_status tok_t5_load(const char *path, struct tok_t5 **out, struct lw_error *err) {
    *out = nullptr;
    std::string file = path ? path : "";
    struct stat st;
    if (stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) file += "/spiece.model";
    tok_t5 *tok = new (std::nothrow) tok_t5;
    if (!tok) return lw_error_set(err, LW_ERR_HOST_MEMORY, "out of host memory");
    auto status = tok->processor.Load(file);
    if (!status.ok()) {
        delete tok;
        return lw_error_set(err, LW_ERR_FORMAT, "%s: not a readable SentencePiece model (%s)", file.c_str(),
                            status.ToString().c_str());
    }
    *out = tok;
    return LW_OK;
}

extern "C" void tok_t5_destroy(struct tok_t5 *tok) {
    delete tok;
}

extern "C" enum lw_status tok_t5_encode(struct tok_t5 *tok, const char *text, int32_t *ids, int max, int *count,
                                        struct lw_error *err) {
    std::vector<int> pieces;
    auto             status = tok->processor.Encode(text ? text : "", &pieces);
    if (!status.ok()) return lw_error_set(err, LW_ERR_ARGUMENT, "T5 tokenizer: %s", status.ToString().c_str());
    pieces.push_back(1); /* </s> */
    if ((int)pieces.size() > max)
        return lw_error_set(err, LW_ERR_ARGUMENT, "T5 tokenizer: %zu ids do not fit in %d", pieces.size(), max);
    for (size_t i = 0; i < pieces.size(); i++) ids[i] = pieces[i];
    *count = (int)pieces.size();
    return LW_OK;
}
