// The C entry points Wireshark's plugin loader looks up by name in an epan plugin: the version
// the plugin was built against and plugin_register, which announces the dissector.
#include <epan/proto.h>
#include <ws_version.h>

#include "wireshark/dissector.hpp"

#define VHS_PLUGIN_EXPORT __attribute__((visibility("default")))

extern "C" {

VHS_PLUGIN_EXPORT extern const char plugin_version[];
VHS_PLUGIN_EXPORT extern const int plugin_want_major;
VHS_PLUGIN_EXPORT extern const int plugin_want_minor;
VHS_PLUGIN_EXPORT void plugin_register(void);

const char plugin_version[] = VHS_VERSION;
const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
const int plugin_want_minor = WIRESHARK_VERSION_MINOR;

void plugin_register(void) {
  static proto_plugin plugin;
  plugin.register_protoinfo = vhs::wireshark::register_protocol;
  plugin.register_handoff = vhs::wireshark::register_handoff;
  proto_register_plugin(&plugin);
}

}  // extern "C"
