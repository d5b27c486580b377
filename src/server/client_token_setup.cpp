#include "server/client_token_setup.h"

namespace ferry {

Expected<std::unique_ptr<ClientTokenStore>> build_client_tokens(const Config& config, EventLog& log) {
  if (config.client_tokens_file.empty() && config.admin.empty()) return std::unique_ptr<ClientTokenStore>{};
  auto store = ClientTokenStore::create();
  if (!store) return fail("cannot make the client token store: " + store.error());
  if (config.client_tokens_file.empty()) return std::move(*store);

  const std::string where = "--client-tokens " + config.client_tokens_file;
  auto file = load_tokens_file(config.client_tokens_file);
  if (!file) return fail(where + ": " + file.error());
  if (file->readable_by_others) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", file->mode);
    log.log(LogLevel::warn, "client_tokens_file_readable",
            {{"file", config.client_tokens_file},
             {"mode", std::string(mode)},
             {"details", "other users can read the client tokens; chmod 600 it"}});
  }
  std::vector<ClientTokenStore::Entry> entries;
  for (auto& line : file->tokens) {
    if (!line.profile.empty() && !config.profiles.contains(line.profile))
      return fail(where + ": line " + std::to_string(line.line) + " names profile '" + line.profile +
                  "', which the configuration does not define ([profiles." + line.profile + "])");
    auto owner = std::make_shared<TokenOwner>();
    owner->id = tokens_file_owner_id(line.line);
    owner->profile = line.profile;
    entries.push_back({std::move(line.token), std::move(owner)});
  }
  if (auto r = (*store)->replace_group("tokens-file:", std::move(entries)); !r) return fail(where + ": " + r.error());
  return std::move(*store);
}

}  // namespace ferry
