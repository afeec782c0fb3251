#include "room_registry.h"

#include <algorithm>
#include <cstdio>

#include "ws_codec.h"

namespace rp::sidecar {

RoomRegistry::RoomRegistry(RegistryLimits limits, SidecarMetrics& metrics)
    : limits_(limits), metrics_(metrics) {}

SessionId RoomRegistry::add_session(std::string peer, int64_t now_ms) {
    SessionId id = next_id_++;
    sessions_.emplace(
        id, std::make_unique<Session>(id, std::move(peer), limits_.max_queue_bytes, now_ms));
    return id;
}

void RoomRegistry::remove_session(SessionId id) {
    auto found = sessions_.find(id);
    if (found == sessions_.end()) return;
    for (const std::string& room : found->second->rooms()) {
        auto in = rooms_.find(room);
        if (in == rooms_.end()) continue;
        in->second.members.erase(id);
        std::erase_if(in->second.parked, [id](const auto& join) { return join.first == id; });
        erase_if_unused(room);
    }
    sessions_.erase(found);
}

Session* RoomRegistry::find(SessionId id) {
    auto found = sessions_.find(id);
    return found == sessions_.end() ? nullptr : found->second.get();
}

std::vector<SessionId> RoomRegistry::session_ids() const {
    std::vector<SessionId> ids;
    ids.reserve(sessions_.size());
    for (const auto& [id, session] : sessions_) ids.push_back(id);
    return ids;
}

void RoomRegistry::count_send(Session& session, SendResult result) {
    if (result == SendResult::queued) {
        metrics_.delivered++;
        return;
    }
    metrics_.dropped++;
    if (session.overflowed_now()) metrics_.slow_consumer_closes++;
}

Result<JoinInfo> RoomRegistry::join(SessionId id, const std::string& room,
                                    const JoinRequest& request) {
    Session* session = find(id);
    if (session == nullptr) return make_error("no_session", "session is gone");
    if (!session->rooms().contains(room) &&
        session->rooms().size() >= limits_.max_rooms_per_session) {
        return make_error("too_many_rooms", "a connection may join at most " +
                                                std::to_string(limits_.max_rooms_per_session) +
                                                " rooms");
    }
    Room& state = room_for(room);
    session->rooms().insert(room);
    if (limits_.shared && !state.tracker.is_loaded()) {
        state.parked.emplace_back(id, request);
        JoinInfo info;
        info.pending = true;
        return info;
    }
    return complete_join(*session, room, state, request);
}

JoinInfo RoomRegistry::complete_join(Session& session, const std::string& room, Room& state,
                                     const JoinRequest& request) {
    state.members.insert(session.id());
    const std::string& client_epoch = request.any_epoch ? state.epoch : request.epoch;
    std::optional<uint64_t> since = request.since;
    // An operator's "after N" past the head simply means "nothing yet", not a lost position.
    if (request.any_epoch && since && *since > state.seq) since = state.seq;
    JoinInfo info{state.seq, state.epoch,
                  state.history.plan_resume(state.seq, state.epoch, since, client_epoch)};
    session.enqueue(make_frame(encode_subscribed(room, state.seq, state.epoch)));
    if (info.resume.reset) {
        metrics_.resets++;
        session.enqueue(make_frame(encode_reset(room, state.epoch)));
    }
    for (const FramePtr& frame : info.resume.replay) {
        if (session.enqueue(frame) == SendResult::queued) metrics_.replayed++;
    }
    return info;
}

bool RoomRegistry::leave(SessionId id, const std::string& room) {
    Session* session = find(id);
    if (session == nullptr || session->rooms().erase(room) == 0) return false;
    auto in = rooms_.find(room);
    if (in != rooms_.end()) {
        in->second.members.erase(id);
        std::erase_if(in->second.parked, [id](const auto& join) { return join.first == id; });
        erase_if_unused(room);
    }
    return true;
}

bool RoomRegistry::is_member(SessionId id, const std::string& room) const {
    auto in = rooms_.find(room);
    return in != rooms_.end() && in->second.members.contains(id);
}

PublishOutcome RoomRegistry::publish(const std::string& room, std::string_view event,
                                     std::string_view data, const std::string& id, int64_t now_ms,
                                     std::string_view from) {
    Room& state = room_for(room);
    PublishOutcome outcome;
    if (!id.empty()) {
        if (auto seen = state.history.seq_of(id)) {
            metrics_.duplicates++;
            outcome.seq = *seen;
            outcome.duplicate = true;
            return outcome;
        }
    }
    metrics_.published++;
    outcome.seq = ++state.seq;
    FramePtr frame =
        make_frame(encode_message({room, outcome.seq, state.epoch, event, data, now_ms, from}));
    deliver(room, state, std::move(frame), outcome.seq, id, now_ms, &outcome.wake,
            &outcome.delivered);
    // A room with neither members nor retained history (--history 0) keeps nothing to resume
    // from. Looked at through `state`: a second lookup by name per publish is not free.
    if (unused(state)) erase_room(rooms_.find(room));
    return outcome;
}

// Retains the frame and queues it for every member.
void RoomRegistry::deliver(const std::string& room, Room& state, FramePtr frame, uint64_t seq,
                           const std::string& id, int64_t ts_ms, std::vector<SessionId>* wake,
                           uint64_t* delivered) {
    (void)room;
    state.seq = std::max(state.seq, seq);
    state.history.append({seq, ts_ms, id, frame});
    wake->reserve(wake->size() + state.members.size());
    for (SessionId member : state.members) {
        Session* session = find(member);
        if (session == nullptr) continue;
        SendResult result = session->enqueue(frame);
        count_send(*session, result);
        if (result == SendResult::queued && delivered != nullptr) ++*delivered;
        wake->push_back(member);
    }
}

SendResult RoomRegistry::send(SessionId id, FramePtr frame) {
    Session* session = find(id);
    if (session == nullptr) return SendResult::dropped;
    return session->enqueue(std::move(frame));
}

bool RoomRegistry::expire(int64_t now_ms, ExpiryBudget budget) {
    // A round visits every room there was when it began, over as many calls as it takes.
    if (expiry_left_ == 0 || expiry_left_ > rooms_.size()) expiry_left_ = rooms_.size();
    std::vector<std::string> unused;
    auto it = expiry_start();
    while (expiry_left_ > 0) {
        if (budget.rooms == 0 || !it->second.history.expire(now_ms, budget.messages)) break;
        --budget.rooms;
        --expiry_left_;
        if (this->unused(it->second)) unused.push_back(it->first);
        if (++it == rooms_.end()) it = rooms_.begin();
    }
    // The next call goes on at the room this one stopped at (its expiry may be unfinished).
    expiry_next_ = expiry_left_ == 0 ? std::string() : it->first;
    for (const std::string& name : unused) erase_room(rooms_.find(name));
    return expiry_left_ == 0;
}

std::unordered_map<std::string, RoomRegistry::Room>::iterator RoomRegistry::expiry_start() {
    auto it = expiry_next_.empty() ? rooms_.end() : rooms_.find(expiry_next_);
    return it == rooms_.end() ? rooms_.begin() : it;
}

// Every room leaves through here, so that an unfinished expiry round goes on at the room after
// it rather than starting over (rooms late in the order would otherwise wait while others come
// and go).
void RoomRegistry::erase_room(std::unordered_map<std::string, Room>::iterator it) {
    if (it->first == expiry_next_) {
        auto next = std::next(it);
        expiry_next_ = next == rooms_.end() ? std::string() : next->first;
    }
    if (forgetter_) forgetter_(it->first);
    rooms_.erase(it);
}

std::vector<RoomSummary> RoomRegistry::summaries() const {
    std::vector<RoomSummary> out;
    out.reserve(rooms_.size());
    for (const auto& [name, state] : rooms_) {
        out.push_back(RoomSummary{name, state.members.size(), state.seq, state.history.size()});
    }
    std::sort(out.begin(), out.end(),
              [](const RoomSummary& a, const RoomSummary& b) { return a.room < b.room; });
    return out;
}

std::optional<RoomDetail> RoomRegistry::detail(const std::string& room) const {
    auto in = rooms_.find(room);
    if (in == rooms_.end()) return std::nullopt;
    RoomDetail detail{in->second.epoch, in->second.seq, in->second.history.size(), {}};
    for (SessionId member : in->second.members) {
        const Session& session = *sessions_.at(member);
        detail.members.push_back(
            {member, session.peer(), session.connected_ms(), session.queued_bytes()});
    }
    std::sort(detail.members.begin(), detail.members.end(),
              [](const MemberInfo& a, const MemberInfo& b) { return a.id < b.id; });
    return detail;
}

std::optional<RoomHistoryView> RoomRegistry::history(const std::string& room, uint64_t since,
                                                     std::size_t limit) const {
    auto in = rooms_.find(room);
    if (in == rooms_.end()) return std::nullopt;
    return RoomHistoryView{in->second.epoch, in->second.seq,
                           in->second.history.after(since, limit)};
}

SidecarGauges RoomRegistry::gauges() const {
    SidecarGauges gauges;
    gauges.connections = sessions_.size();
    gauges.rooms = rooms_.size();
    for (const auto& [name, state] : rooms_) {
        gauges.members += state.members.size();
        gauges.retained_messages += state.history.size();
        gauges.retained_bytes += state.history.bytes();
    }
    for (const auto& [id, session] : sessions_) gauges.bytes_queued += session->queued_bytes();
    return gauges;
}

RoomRegistry::Room& RoomRegistry::room_for(const std::string& room) {
    auto [it, created] = rooms_.try_emplace(room, limits_.history);
    if (!created) return it->second;
    if (!limits_.shared) {
        it->second.epoch = new_epoch();
    } else if (fetcher_) {
        fetcher_(room, std::nullopt);
    }
    return it->second;
}

// Memory: a room lives while it has members or history. Shared: the history lives in Redis, and
// a room without local members would fall behind, so it is forgotten with its last member.
bool RoomRegistry::unused(const Room& state) const {
    if (limits_.shared) return state.members.empty() && state.parked.empty();
    return state.members.empty() && state.history.empty() && !state.history.remembers_ids();
}

// A room with no members and no retained history has nothing to resume from: it is forgotten,
// and starts afresh next time under a new epoch, so a client holding the old epoch gets a reset.
void RoomRegistry::erase_if_unused(const std::string& room) {
    auto it = rooms_.find(room);
    if (it != rooms_.end() && unused(it->second)) erase_room(it);
}

std::string RoomRegistry::new_epoch() { return epochs_.next(); }

}  // namespace rp::sidecar
