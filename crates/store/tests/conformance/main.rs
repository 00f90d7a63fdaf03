//! The store conformance suite: every test is written once against `Arc<dyn Store>` and run on both backends, as
//! `sqlite::<test>` on a fresh SQLite file and `postgres::<test>` on a fresh PostgreSQL database.
//!
//! PostgreSQL: `HERALD_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) is the admin URL
//! each test creates its database `herald_test_<random>` with, and drops it with after. An unreachable server fails
//! the PostgreSQL tests; `HERALD_TEST_SKIP_POSTGRES=1` skips them instead. `pg_only` holds what SQLite has no
//! counterpart for (concurrent migration, an unreachable server). See docs/STORAGE.md.

mod backpressure;
mod catalogue;
mod dead_letters;
mod deliveries;
mod entities;
mod fixtures;
mod harness;
mod maintenance;
mod operational;
mod ordering;
mod pg_only;
mod sealing;
mod sessions;
mod sqlite_only;

/// Instantiates each listed test (`module::name`, an `async fn(Arc<dyn Store>)`) once per backend.
macro_rules! conformance {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = crate::harness::sqlite().await;
                    crate::$module::$test(db.store.clone()).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(db) = crate::harness::postgres().await else { return };
                    crate::$module::$test(db.store.clone()).await;
                }
            )*
        }
    };
}

conformance! {
    backpressure::a_hold_only_grows_and_is_listed_until_it_ends,
    backpressure::send_slots_follow_one_another_and_never_start_in_the_past,
    ordering::only_the_head_of_each_entity_is_claimable_and_its_end_releases_the_next,
    ordering::a_waiting_delivery_is_stored_unheld_whatever_its_owner,
    ordering::entities_are_per_webhook_and_unordered_deliveries_never_wait,
    ordering::deleting_a_webhook_cancels_its_waiting_deliveries,
    ordering::concurrent_inserts_of_one_entity_keep_one_head_and_dense_sequences,
    ordering::retention_keeps_the_payload_of_a_waiting_delivery,
    catalogue::an_application_round_trips_and_is_found_by_its_key_hash,
    catalogue::applications_are_listed_in_pages_oldest_first_with_a_total,
    catalogue::updating_an_application_changes_its_name_scopes_and_modified,
    catalogue::a_duplicate_client_id_or_key_hash_is_a_conflict,
    catalogue::a_rotated_api_key_replaces_the_old_one_which_may_live_on_until_it_expires,
    catalogue::a_deleted_application_is_gone_with_its_webhooks_but_its_logs_stay,
    catalogue::an_installation_round_trips_and_is_terminated_once,
    catalogue::an_installation_and_its_event_are_stored_in_one_transaction,
    catalogue::an_installation_whose_event_cannot_be_stored_is_not_stored_either,
    catalogue::installations_are_listed_by_application_customer_and_state,
    catalogue::is_installed_follows_installation_and_termination,
    catalogue::a_webhook_round_trips_and_updates,
    catalogue::a_deleted_webhook_is_not_found_listed_updated_or_deleted_again,
    catalogue::webhooks_are_listed_by_application_activity_and_exact_customer,
    catalogue::webhooks_sort_by_created_or_modified_in_either_direction,
    catalogue::deleting_a_webhook_cancels_its_pending_deliveries_only,
    catalogue::every_routing_write_moves_the_routing_version,
    catalogue::the_routing_snapshot_holds_live_webhooks_scopes_and_current_installations,
    deliveries::claim_due_takes_only_pending_deliveries_that_are_due,
    deliveries::claim_due_takes_the_earliest_due_up_to_the_limit,
    deliveries::claim_due_skips_excluded_webhooks,
    deliveries::claim_due_finds_other_webhooks_behind_an_excluded_backlog,
    deliveries::a_claimed_delivery_carries_what_the_attempt_needs,
    deliveries::a_claimed_delivery_is_not_claimed_again_within_the_default_lease,
    deliveries::concurrent_claims_never_return_the_same_delivery,
    deliveries::many_deliveries_are_stored_in_one_call,
    deliveries::batches_of_every_size_keep_each_row_apart,
    deliveries::record_attempts_moves_deliveries_through_their_states,
    deliveries::attempts_of_one_delivery_in_one_batch_apply_in_order,
    deliveries::record_attempts_keeps_the_webhook_health,
    deliveries::next_due_at_is_the_earliest_pending_delivery_nobody_holds,
    deliveries::release_claims_frees_one_owner_and_release_all_claims_every_owner,
    deliveries::get_delivery_returns_the_delivery_and_its_event,
    deliveries::list_attempts_filters_and_shows_the_newest_first,
    deliveries::attempt_pages_follow_the_cursor_and_stop_at_the_byte_budget,
    deliveries::an_idempotency_key_keeps_its_answer_and_cannot_be_used_twice,
    deliveries::an_expired_idempotency_key_is_replaced_at_once,
    deliveries::of_requests_sharing_an_idempotency_key_at_once_exactly_one_is_stored,
    deliveries::a_delivery_held_by_a_node_with_a_stale_heartbeat_goes_to_another,
    deliveries::a_node_that_heartbeats_keeps_its_claims_past_the_lease,
    deliveries::a_delivery_stored_held_by_a_node_is_claimed_by_it,
    deliveries::a_node_gets_its_own_deliveries_back_after_a_lease,
    deliveries::a_refused_request_does_not_fail_the_requests_stored_with_it,
    deliveries::claiming_counts_as_a_heartbeat,
    deliveries::a_node_claiming_every_second_keeps_its_claims_with_no_other_heartbeat,
    entities::entity_state_is_written_with_its_events_only_at_the_version_read,
    entities::concurrent_writers_of_one_version_succeed_once,
    entities::concurrent_writers_of_distinct_entities_are_applied_or_stale_each_alone,
    maintenance::replay_candidates_are_one_per_event_oldest_first_within_the_window_and_states,
    maintenance::insert_deliveries_adds_deliveries_to_stored_events,
    maintenance::many_deliveries_are_added_in_one_call,
    maintenance::webhooks_failing_since_before_the_cutoff_are_disabled_once,
    maintenance::stats_count_due_and_scheduled_deliveries_and_failing_webhooks,
    maintenance::prune_drops_old_bodies_responses_and_keys_but_keeps_rows,
    maintenance::prune_goes_through_more_rows_than_one_batch,
    maintenance::attempt_counts_group_by_day_customer_topic_and_webhook,
    operational::a_failing_streak_is_announced_once_and_its_end_once_whatever_the_concurrency,
    operational::disabling_a_webhook_announces_it_once_in_the_same_transaction,
    sessions::a_session_round_trips_and_is_deleted,
    sessions::a_new_session_drops_the_oldest_of_its_principal_beyond_the_cap,
    sessions::expired_sessions_are_deleted_by_idleness_or_age,
    dead_letters::a_dead_letter_is_kept_once_per_source_and_message_id,
}
