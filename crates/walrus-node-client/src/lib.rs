//! One storage node's REST API as a client sees it: [`NodeClient`] (the reference's endpoints
//! and our batch ones, each with a timeout, errors carrying the node's reason code) and the
//! error envelope of [`envelope`], which the node itself renders. The SDK and the gateway talk
//! to nodes through this crate without linking the node.

pub mod client;
pub mod connector;
pub mod envelope;
pub mod reason;
pub mod source;

pub use client::{ChallengeAnswer, NodeClient, NodeError};
pub use connector::NodeConnector;
pub use reason::Reason;
pub use source::SliverSource;
