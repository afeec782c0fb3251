#pragma once
// The memory broker (--broker memory, the default): the room registry on the loop thread is the
// whole truth, so there is nothing to start, fetch or report, and no cluster.

#include "broker.h"
#include "loop_port.h"
#include "room_registry.h"

namespace rp::sidecar {

class MemoryBroker : public Broker {
public:
    MemoryBroker(LoopPort& loop, RoomRegistry& registry,
                 std::chrono::milliseconds patience = kLoopPatience)
        : loop_(loop), registry_(registry), patience_(patience) {}

    bool shared() const override { return false; }
    Status start(BrokerListener) override { return ok_status(); }
    void stop() override {}
    // The control socket's batches publish on the loop directly (one hand-over per batch); this
    // is the same publish for any other caller of the interface.
    Result<PublishAck> publish(const ControlRequest& request, int64_t now_ms) override;
    // Nothing to read beyond the registry, which the loop answers from.
    Result<std::optional<HistoryPage>> history(const std::string&, uint64_t, std::size_t) override {
        return std::optional<HistoryPage>{};
    }
    void fetch(const std::string&, std::optional<uint64_t>) override {}
    void report_members(std::string) override {}
    Result<std::vector<std::string>> cluster_reports() override;

private:
    LoopPort& loop_;
    RoomRegistry& registry_;
    std::chrono::milliseconds patience_;
};

}  // namespace rp::sidecar
