//! Which webhooks receive an event (contract §8.2), and the in-memory routing table built from the store.
//!
//! A webhook receives an event when all hold: it is active (deleted webhooks are never in the table); its topics hold
//! the event's topic; its application holds the topic's scope; and for the customer: the event's customer is `SBOX`
//! and the webhook lists `SBOX`, or the customer has a current installation of the application and the webhook's
//! customer list is empty or lists it. `application.*` events go only to the application concerned, whatever its
//! installation state, and still honour a non-empty customer list. An eTag-only modification goes only to webhooks
//! that asked for them (`ignoreEtagOnlyChanges: false`). After these rules, a webhook with a payload filter
//! (contract §9.2) receives the event only if the payload satisfies it; the table holds each filter compiled.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::filter::{Filter, FilterError};
use crate::payload::FirstAttempt;
use crate::{ApplicationId, Topic, WebhookId, SANDBOX_CUSTOMER};

/// What routing needs to know of a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteWebhook {
    pub id: WebhookId,
    pub application_id: ApplicationId,
    pub topic_ids: Vec<String>,
    /// Empty: every installed customer but the sandbox.
    pub customer_ids: Vec<String>,
    pub active: bool,
    pub ignore_etag_only_changes: bool,
    /// Each entity's deliveries one after the other (contract §9.1, [`crate::ordering`]).
    pub ordered: bool,
    /// The payload filter's JSON text, as stored; the table compiles it.
    pub filter: Option<String>,
}

/// What routing needs to know of an event.
#[derive(Debug, Clone, Copy)]
pub struct RouteEvent<'a> {
    pub topic: &'a Topic,
    pub customer_id: &'a str,
    /// A `.modified` event whose only differences are `_eTag` and `modified`.
    pub etag_only: bool,
    /// For `application.*` events: the application installed or uninstalled.
    pub application: Option<ApplicationId>,
}

/// Facts about applications and installations, as routing sees them.
pub trait Facts {
    fn holds_scope(&self, application: ApplicationId, scope: &str) -> bool;
    fn is_installed(&self, application: ApplicationId, customer: &str) -> bool;
}

/// Whether `webhook` receives `event`: the rule of contract §8.2, in one function.
pub fn receives(webhook: &RouteWebhook, event: &RouteEvent<'_>, facts: &impl Facts) -> bool {
    if !webhook.active || !webhook.topic_ids.iter().any(|t| t == event.topic.id) {
        return false;
    }
    if let Some(scope) = event.topic.scope {
        if !facts.holds_scope(webhook.application_id, scope) {
            return false;
        }
    }
    if event.etag_only && webhook.ignore_etag_only_changes {
        return false;
    }
    let lists = |c: &str| webhook.customer_ids.iter().any(|x| x == c);
    if let Some(app) = event.application {
        return app == webhook.application_id && (webhook.customer_ids.is_empty() || lists(event.customer_id));
    }
    if event.customer_id == SANDBOX_CUSTOMER {
        return lists(SANDBOX_CUSTOMER);
    }
    facts.is_installed(webhook.application_id, event.customer_id)
        && (webhook.customer_ids.is_empty() || lists(event.customer_id))
}

/// Why an application may no longer receive an event it was sent before (a customer uninstalled it, or a scope was
/// taken away): the customer and scope half of the rule above, for redelivery, replay and the logs' payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The application no longer holds the topic's scope.
    ScopeNotHeld(&'static str),
    /// The customer has no current installation of the application.
    NotInstalled,
    /// A sandbox event, and the webhook no longer lists `SBOX`.
    SandboxNotListed,
}

impl Refusal {
    /// The request field the refusal concerns, for an error body.
    pub fn field(&self) -> &'static str {
        match self {
            Refusal::ScopeNotHeld(_) => "topicId",
            Refusal::NotInstalled | Refusal::SandboxNotListed => "customerId",
        }
    }

    /// Why, in words a user may read.
    pub fn message(&self, customer: &str) -> String {
        match self {
            Refusal::ScopeNotHeld(scope) => format!("the application no longer holds the scope {scope}"),
            Refusal::NotInstalled => {
                format!("customer {customer} no longer has a current installation of the application")
            }
            Refusal::SandboxNotListed => "the webhook no longer lists the sandbox customer SBOX".into(),
        }
    }
}

/// Whether `application` may still receive an event of `topic` for `customer` it was sent before (contract §8.2 for
/// customer and scope): `application.*` and `webhooks.*` events (no entity type: about the application itself, not
/// a customer's data) always go to their application; otherwise the application must hold
/// the topic's scope, and the customer must be `SBOX` (listed by the webhook, when `webhook_customers` is given) or
/// have a current installation of the application.
pub fn may_still_receive(
    application: ApplicationId,
    topic: &Topic,
    customer: &str,
    webhook_customers: Option<&[String]>,
    facts: &impl Facts,
) -> Result<(), Refusal> {
    if topic.entity_type.is_none() {
        return Ok(());
    }
    if let Some(scope) = topic.scope {
        if !facts.holds_scope(application, scope) {
            return Err(Refusal::ScopeNotHeld(scope));
        }
    }
    if customer == SANDBOX_CUSTOMER {
        return match webhook_customers {
            Some(list) if !list.iter().any(|c| c == SANDBOX_CUSTOMER) => Err(Refusal::SandboxNotListed),
            _ => Ok(()),
        };
    }
    if facts.is_installed(application, customer) {
        Ok(())
    } else {
        Err(Refusal::NotInstalled)
    }
}

/// A snapshot of every live webhook, the scopes of every application and the current installations, indexed by topic.
/// Built from the store, replaced whole when any of them changes; routing an event reads only memory.
#[derive(Debug, Default)]
pub struct RoutingTable {
    by_topic: HashMap<String, Vec<Arc<Entry>>>,
    scopes: HashMap<ApplicationId, HashSet<String>>,
    installed: HashMap<ApplicationId, HashSet<String>>,
}

/// A webhook in the table, with its filter compiled.
#[derive(Debug)]
struct Entry {
    webhook: Arc<RouteWebhook>,
    filter: Option<Compiled>,
}

#[derive(Debug, Clone)]
enum Compiled {
    Filter(Arc<Filter>),
    /// A stored filter that no longer compiles (it was checked when it was saved, so only a change of validator
    /// could do this). The webhook receives nothing until it is saved again: an event is sent only when its payload
    /// is known to satisfy the filter.
    Broken(FilterError),
}

impl RoutingTable {
    pub fn new(
        webhooks: impl IntoIterator<Item = RouteWebhook>,
        scopes: impl IntoIterator<Item = (ApplicationId, Vec<String>)>,
        installations: impl IntoIterator<Item = (ApplicationId, String)>,
    ) -> Self {
        Self::rebuilt(None, webhooks, scopes, installations)
    }

    /// As [`RoutingTable::new`], taking each filter that has not changed since `previous` from it instead of
    /// compiling it again (and compiling a filter that several webhooks share once).
    pub fn rebuilt(
        previous: Option<&RoutingTable>,
        webhooks: impl IntoIterator<Item = RouteWebhook>,
        scopes: impl IntoIterator<Item = (ApplicationId, Vec<String>)>,
        installations: impl IntoIterator<Item = (ApplicationId, String)>,
    ) -> Self {
        // Filters by text: those of the previous table, then each compiled here, so that a text is compiled once.
        let mut known: HashMap<String, Compiled> = previous
            .into_iter()
            .flat_map(|p| p.by_topic.values().flatten())
            .filter_map(|e| Some((e.webhook.filter.clone()?, e.filter.clone()?)))
            .collect();
        let mut by_topic: HashMap<String, Vec<Arc<Entry>>> = HashMap::new();
        for w in webhooks {
            if !w.active {
                continue;
            }
            let filter = w.filter.as_ref().map(|text| {
                known
                    .entry(text.clone())
                    .or_insert_with(|| match Filter::parse(text) {
                        Ok(f) => Compiled::Filter(Arc::new(f)),
                        Err(e) => Compiled::Broken(e),
                    })
                    .clone()
            });
            let e = Arc::new(Entry { webhook: Arc::new(w), filter });
            for t in &e.webhook.topic_ids {
                by_topic.entry(t.clone()).or_default().push(e.clone());
            }
        }
        Self {
            by_topic,
            scopes: scopes.into_iter().map(|(a, s)| (a, s.into_iter().collect())).collect(),
            installed: installations.into_iter().fold(HashMap::new(), |mut m: HashMap<_, HashSet<String>>, (a, c)| {
                m.entry(a).or_default().insert(c);
                m
            }),
        }
    }

    /// The webhooks that receive `event`, in a stable order (by webhook id): those the rules of §8.2 select, less
    /// those whose filter `payload` does not satisfy. The payload is parsed only if such a webhook has a filter.
    pub fn route(&self, event: &RouteEvent<'_>, payload: &FirstAttempt<'_>) -> Vec<Arc<RouteWebhook>> {
        let Some(candidates) = self.by_topic.get(event.topic.id) else { return Vec::new() };
        let passes = |e: &Entry| match &e.filter {
            None => true,
            Some(Compiled::Filter(f)) => payload.value().is_some_and(|p| f.matches(p)),
            Some(Compiled::Broken(_)) => false,
        };
        let mut out: Vec<Arc<RouteWebhook>> = candidates
            .iter()
            .filter(|e| receives(&e.webhook, event, self) && passes(e))
            .map(|e| e.webhook.clone())
            .collect();
        out.sort_by_key(|w| w.id);
        out
    }

    pub fn webhook_count(&self) -> usize {
        self.by_topic.values().flatten().map(|e| e.webhook.id).collect::<HashSet<_>>().len()
    }

    /// The webhooks whose stored filter no longer compiles, and why: they receive nothing.
    pub fn broken_filters(&self) -> Vec<(WebhookId, String)> {
        let mut out: Vec<_> = self
            .by_topic
            .values()
            .flatten()
            .filter_map(|e| match &e.filter {
                Some(Compiled::Broken(why)) => Some((e.webhook.id, why.to_string())),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl Facts for RoutingTable {
    fn holds_scope(&self, application: ApplicationId, scope: &str) -> bool {
        self.scopes.get(&application).is_some_and(|s| s.contains(scope))
    }

    fn is_installed(&self, application: ApplicationId, customer: &str) -> bool {
        self.installed.get(&application).is_some_and(|c| c.contains(customer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    const TOPIC: Topic = Topic {
        id: "contacts.modified",
        name: "Contact modified",
        description: "",
        scope: Some("contacts.read"),
        entity_type: Some(crate::EntityType::Contacts),
    };
    const INSTALL: Topic =
        Topic { id: "application.install", name: "Install", description: "", scope: None, entity_type: None };

    fn app(n: u128) -> ApplicationId {
        ApplicationId(Uuid::from_u128(n))
    }

    fn hook(n: u128, app_n: u128, topics: &[&str], customers: &[&str]) -> RouteWebhook {
        RouteWebhook {
            id: WebhookId(Uuid::from_u128(n)),
            application_id: app(app_n),
            topic_ids: topics.iter().map(|s| s.to_string()).collect(),
            customer_ids: customers.iter().map(|s| s.to_string()).collect(),
            active: true,
            ignore_etag_only_changes: true,
            ordered: false,
            filter: None,
        }
    }

    fn table(hooks: Vec<RouteWebhook>) -> RoutingTable {
        RoutingTable::new(
            hooks,
            [(app(1), vec!["contacts.read".to_string()]), (app(2), vec![])],
            [(app(1), "RPT".to_string()), (app(2), "RPT".to_string())],
        )
    }

    fn ev<'a>(topic: &'a Topic, customer: &'a str) -> RouteEvent<'a> {
        RouteEvent { topic, customer_id: customer, etag_only: false, application: None }
    }

    fn route(t: &RoutingTable, e: &RouteEvent<'_>) -> Vec<Arc<RouteWebhook>> {
        t.route(e, &FirstAttempt::new(r#""eventId":"e1","diff":{"mobilePhone":["1","2"]}}"#))
    }

    fn ids(v: Vec<Arc<RouteWebhook>>) -> Vec<u128> {
        v.iter().map(|w| w.id.0.as_u128()).collect()
    }

    #[test]
    fn routes_by_topic_scope_installation_and_customer_list() {
        let t = table(vec![
            hook(1, 1, &["contacts.modified"], &[]),      // all installed customers
            hook(2, 1, &["contacts.modified"], &["RPT"]), // lists RPT
            hook(3, 1, &["contacts.modified"], &["XYZ"]), // lists another customer
            hook(4, 1, &["contacts.created"], &[]),       // another topic
            hook(5, 2, &["contacts.modified"], &[]),      // application lacks the scope
            hook(6, 1, &["contacts.modified"], &["SBOX"]),
        ]);
        assert_eq!(ids(route(&t, &ev(&TOPIC, "RPT"))), vec![1, 2]);
        assert_eq!(ids(route(&t, &ev(&TOPIC, "NOTINSTALLED"))), Vec::<u128>::new());
        assert_eq!(ids(route(&t, &ev(&TOPIC, "SBOX"))), vec![6]);
    }

    #[test]
    fn an_application_may_still_receive_only_what_its_scopes_and_installations_allow() {
        let t = table(vec![]);
        let sbox = vec!["SBOX".to_string()];
        assert_eq!(may_still_receive(app(1), &TOPIC, "RPT", None, &t), Ok(()));
        assert_eq!(may_still_receive(app(1), &TOPIC, "GONE", None, &t), Err(Refusal::NotInstalled));
        assert_eq!(may_still_receive(app(2), &TOPIC, "RPT", None, &t), Err(Refusal::ScopeNotHeld("contacts.read")));
        assert_eq!(may_still_receive(app(1), &TOPIC, "SBOX", Some(&sbox), &t), Ok(()));
        assert_eq!(may_still_receive(app(1), &TOPIC, "SBOX", Some(&[]), &t), Err(Refusal::SandboxNotListed));
        assert_eq!(may_still_receive(app(1), &TOPIC, "SBOX", None, &t), Ok(()));
        assert_eq!(may_still_receive(app(2), &INSTALL, "GONE", None, &t), Ok(()), "application.* always");
    }

    #[test]
    fn inactive_webhooks_receive_nothing() {
        let mut h = hook(1, 1, &["contacts.modified"], &[]);
        h.active = false;
        assert!(route(&table(vec![h]), &ev(&TOPIC, "RPT")).is_empty());
    }

    #[test]
    fn etag_only_changes_reach_only_webhooks_that_want_them() {
        let mut wants = hook(2, 1, &["contacts.modified"], &[]);
        wants.ignore_etag_only_changes = false;
        let t = table(vec![hook(1, 1, &["contacts.modified"], &[]), wants]);
        let mut e = ev(&TOPIC, "RPT");
        e.etag_only = true;
        assert_eq!(ids(route(&t, &e)), vec![2]);
    }

    #[test]
    fn application_events_reach_only_the_application_concerned() {
        let t = RoutingTable::new(
            vec![
                hook(1, 1, &["application.install"], &[]),
                hook(2, 2, &["application.install"], &[]),
                hook(3, 1, &["application.install"], &["OTHER"]),
                hook(4, 1, &["application.install"], &["NEWCUST"]),
            ],
            [],
            [],
        );
        let e = RouteEvent { topic: &INSTALL, customer_id: "NEWCUST", etag_only: false, application: Some(app(1)) };
        assert_eq!(ids(route(&t, &e)), vec![1, 4]);
    }

    #[test]
    fn a_filter_lets_through_only_payloads_that_satisfy_it_and_is_checked_after_the_rules() {
        let with =
            |n: u128, f: &str| RouteWebhook { filter: Some(f.to_string()), ..hook(n, 1, &["contacts.modified"], &[]) };
        let t = table(vec![
            hook(1, 1, &["contacts.modified"], &[]),
            with(2, r#"{"required":["diff"],"properties":{"diff":{"required":["mobilePhone"]}}}"#),
            with(3, r#"{"required":["diff"],"properties":{"diff":{"required":["surname"]}}}"#),
            with(4, r#"{"properties":{"SendAttempts":{"const":1}}}"#),
            with(5, r#"{"type":"no-such-type"}"#),
        ]);
        assert_eq!(ids(route(&t, &ev(&TOPIC, "RPT"))), vec![1, 2, 4]);
        assert_eq!(t.broken_filters().len(), 1, "a stored filter that does not compile lets nothing through");
        assert_eq!(t.broken_filters()[0].0, WebhookId(Uuid::from_u128(5)));
        let payload = FirstAttempt::new(r#""eventId":"e1"}"#);
        assert!(t.route(&ev(&TOPIC, "NOTINSTALLED"), &payload).is_empty());
        assert!(!payload.is_parsed(), "no webhook passed the rules, so no filter read the payload");
        let unfiltered = table(vec![hook(1, 1, &["contacts.modified"], &[])]);
        assert_eq!(ids(unfiltered.route(&ev(&TOPIC, "RPT"), &payload)), vec![1]);
        assert!(!payload.is_parsed(), "no filter, no parse");
    }

    #[test]
    fn a_rebuilt_table_reuses_the_filters_it_already_compiled() {
        let f = r#"{"required":["diff"]}"#;
        let h =
            RouteWebhook { filter: Some(f.to_string()), ..hook(1, 1, &["contacts.modified", "contacts.created"], &[]) };
        let first = table(vec![h.clone()]);
        let second = RoutingTable::rebuilt(Some(&first), vec![h], [], []);
        let filter_of = |t: &RoutingTable| match t.by_topic["contacts.modified"][0].filter.clone() {
            Some(Compiled::Filter(f)) => f,
            other => panic!("{other:?}"),
        };
        assert!(Arc::ptr_eq(&filter_of(&first), &filter_of(&second)));
        assert!(Arc::ptr_eq(&first.by_topic["contacts.created"][0], &first.by_topic["contacts.modified"][0]));
    }
}
