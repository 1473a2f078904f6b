// FabricConfig: the parameters of a fabric, as dotted keys ("bag.oversubscription") with text values that
// carry their units ("4.5:1", "800Gbps"). A config starts from a preset (prometheus, llama3-24k, fat-tree),
// then a YAML/JSON file and `--set key=value` options override keys. Every key is declared in one schema
// (config_keys()) with its kind; a value is checked when it is set, so an error names the file and line (or
// the option) where the bad value was written, the key, and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace collemu::models {

enum class KeyKind { Count, CountOrAuto, Bandwidth, Duration, Distance, Ratio, Percent, Bool, Choice };

struct KeySpec {
  std::string_view name;
  KeyKind kind;
  std::string_view choices;  // for Choice: "a|b|c"
  std::string_view help;     // one line, with the unit and the source of the default
};

// Every key a fabric config may set, in the order `collemu topo --list-keys` prints them.
const std::vector<KeySpec>& config_keys();
const KeySpec* find_key(std::string_view name);
// A quantity key's text as a number in its base unit (Bandwidth B/s, Duration s, Distance m, Ratio, Percent as a
// fraction). Throws common::UnitError for text of another unit, or a key that holds no quantity (a count, a choice).
double key_number(const KeySpec& k, std::string_view text);
// The preset names, for --help and errors.
const std::vector<std::string_view>& preset_names();

class FabricConfig {
 public:
  // Throws common::InputError for an unknown preset name.
  static FabricConfig from_preset(std::string_view preset);
  // YAML or JSON file: an optional `preset:` (default prometheus) and keys, nested (`bag: {wiring: spread}`)
  // or dotted (`bag.wiring: spread`). Errors name the file and line.
  static FabricConfig from_file(const std::string& path);
  // A preset name or a file path, as `collemu topo PRESET|FILE` takes it.
  static FabricConfig from_preset_or_file(const std::string& name_or_path);

  // An overlay file (YAML or JSON, keys as in from_file but no `preset:`): its keys set over this config, each error
  // naming the file and line (`--set-file`).
  void set_file(const std::string& path);
  // "key=value" as given to --set; `where` names the source for errors (e.g. "--set bag.x=1").
  void set_assignment(std::string_view assignment);
  void set(std::string_view key, std::string_view value, std::string where);

  const std::string& preset() const { return preset_; }

  std::int64_t count(std::string_view key) const;
  std::optional<std::int64_t> count_or_auto(std::string_view key) const;  // nullopt for "auto"
  double bandwidth_Bps(std::string_view key) const;
  double duration_s(std::string_view key) const;
  double distance_m(std::string_view key) const;
  double ratio(std::string_view key) const;
  double fraction(std::string_view key) const;  // a Percent key, as a fraction
  double number(std::string_view key) const;    // any quantity key, in its base unit (key_number)
  bool boolean(std::string_view key) const;
  std::string choice(std::string_view key) const;

  // The value text of a key as it stands (user value or the preset's default) and where it came from.
  std::string text(std::string_view key) const;
  std::string where(std::string_view key) const;
  // "file:line: key 'k' (value 'v'): ..." for errors found after parsing (an impossible topology).
  std::string describe(std::string_view key) const;
  // The effective configuration as a YAML file that from_file reads back to the same config: `preset:`, then every
  // key in schema order with its value, each with a comment saying where it came from.
  std::string to_yaml() const;

 private:
  struct Value {
    std::string text;
    std::string where;
  };
  const KeySpec& spec(std::string_view key, KeyKind kind) const;
  Value value(std::string_view key) const;
  template <class F>
  auto parse(std::string_view key, KeyKind kind, F&& f) const;

  std::string preset_;
  std::map<std::string, Value, std::less<>> user_;
};

}  // namespace collemu::models
