//! The topic catalogue as the API serves it (contract §5.2).

use herald_domain::{topics, ApplicationId, Topic};
use herald_store::Page;

use crate::models::TopicOut;
use crate::paging::Paged;
use crate::*;

/// The topic model, with the example payload Ping sends.
pub fn topic_out(t: &Topic) -> TopicOut {
    TopicOut {
        id: t.id.to_string(),
        name: t.name.to_string(),
        description: t.description.to_string(),
        associated_scope: t.scope.map(str::to_string),
        active: true,
        example: String::from_utf8_lossy(&crate::ping::example_payload(t, None)).into_owned(),
    }
}

/// Whether an application holding `scopes` may receive `topic`.
pub fn allowed(topic: &Topic, scopes: &[String]) -> bool {
    topic.scope.is_none_or(|s| scopes.iter().any(|x| x == s))
}

impl Herald {
    /// Topics, filtered to those an application may receive when `application` is given.
    pub async fn list_topics(
        &self,
        who: &Principal,
        application: Option<ApplicationId>,
        page: Page,
    ) -> ServiceResult<Paged<TopicOut>> {
        let scopes = match application {
            Some(id) => Some(self.app_record(who, id).await?.scopes),
            None => None,
        };
        let all: Vec<&Topic> = topics::all().iter().filter(|t| scopes.as_ref().is_none_or(|s| allowed(t, s))).collect();
        let start = page.offset() as usize;
        let items = all.iter().skip(start).take(page.size as usize).map(|t| topic_out(t)).collect();
        Ok(Paged { items, page, total: all.len() as u64 })
    }

    pub fn get_topic(&self, id: &str) -> ServiceResult<TopicOut> {
        topics::find(id).map(topic_out).ok_or(ServiceError::NotFound("topic"))
    }
}
