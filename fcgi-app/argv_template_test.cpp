#include "argv_template.h"

#include <gtest/gtest.h>

namespace rp::app {
namespace {

TEST(ArgvTemplate, SplitsQuotesAndSubstitutes) {
    auto parsed = ArgvTemplate::parse(
        "/usr/bin/tool  --in {input} --out={workdir}/x 'a b' \"say \\\"{room}\\\"\" {item}");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    auto argv = parsed->expand({{"input", "/s/in"},
                                {"workdir", "/s/w"},
                                {"room", "A; rm -rf /"},
                                {"item", ""},
                                {"job", "j"}});
    EXPECT_EQ(argv, (std::vector<std::string>{"/usr/bin/tool", "--in", "/s/in", "--out=/s/w/x",
                                              "a b", "say \"A; rm -rf /\"", ""}));
}

TEST(ArgvTemplate, RefusesWhatCannotRun) {
    EXPECT_EQ(ArgvTemplate::parse("").error().code, "bad_exec");
    EXPECT_EQ(ArgvTemplate::parse("   ").error().code, "bad_exec");
    EXPECT_EQ(ArgvTemplate::parse("tool {input}").error().code, "bad_exec");
    EXPECT_EQ(ArgvTemplate::parse("/bin/tool {inptu}").error().code, "bad_exec");
    EXPECT_EQ(ArgvTemplate::parse("/bin/tool {input").error().code, "bad_exec");
    EXPECT_EQ(ArgvTemplate::parse("/bin/tool 'open").error().code, "bad_exec");
    EXPECT_NE(ArgvTemplate::parse("/bin/tool {inptu}").error().message.find("inptu"),
              std::string::npos);
}

}  // namespace
}  // namespace rp::app
