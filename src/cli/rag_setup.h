// Opens the RAG service for a gateway: the document store at
// <data_dir>/gantry.db, vector indexes under <data_dir>/vectors, embeddings
// through the gateway, and word-piece counting with the local embedding
// model's tokenizer when that is the embedding model.
//
//   rag:
//     enabled: true
//     embedding_model: all-MiniLM-L6-v2   # a model of kind embedding; default: the first one
//     threads: 2                          # parsing and SQLite workers
//     save_interval_s: 30                 # vector index save period
//     exact_search_max: 4096              # filtered searches up to this many chunks are exact
#pragma once

#include <memory>
#include <string>

#include "core/config.h"
#include "core/logging.h"
#include "gateway/gateway.h"
#include "rag/rag_service.h"

namespace gantry::cli {

// nullptr (with a warning logged) when RAG is disabled or no embedding model
// is configured; errors for a bad `rag:` section or an unusable data directory.
Result<std::unique_ptr<rag::RagService>> OpenRag(const ConfigNode& root, gateway::Gateway& gw,
                                                 const std::string& data_dir, LoggerPtr log);

}  // namespace gantry::cli
