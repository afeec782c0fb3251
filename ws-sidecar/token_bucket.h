#pragma once
// A rate limit that allows bursts: `burst` tokens at most, refilled at `rate` per second; each
// action takes one. Plain data, so that a connection that never publishes pays 16 bytes for it.

#include <algorithm>
#include <cstdint>

namespace rp::sidecar {

struct TokenRate {
    double per_second = 5;
    double burst = 10;
};

class TokenBucket {
public:
    // True (and one token spent) when the action may go ahead at `now_ms`.
    bool take(const TokenRate& rate, int64_t now_ms) {
        if (last_ms_ == 0) tokens_ = rate.burst;  // a new bucket starts full
        double elapsed_s = static_cast<double>(std::max<int64_t>(0, now_ms - last_ms_)) / 1000.0;
        if (last_ms_ != 0) tokens_ = std::min(rate.burst, tokens_ + elapsed_s * rate.per_second);
        last_ms_ = now_ms;
        if (tokens_ < 1.0) return false;
        tokens_ -= 1.0;
        return true;
    }

    // How long until take() would succeed, for the refusal's hint.
    int64_t wait_ms(const TokenRate& rate) const {
        if (tokens_ >= 1.0 || rate.per_second <= 0) return 0;
        return static_cast<int64_t>((1.0 - tokens_) / rate.per_second * 1000.0) + 1;
    }

private:
    double tokens_ = 0;
    int64_t last_ms_ = 0;
};

}  // namespace rp::sidecar
