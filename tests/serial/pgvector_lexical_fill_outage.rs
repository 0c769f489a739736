//! The pgvector store's background lexical fill through a database outage: PostgreSQL stops
//! (`scripts/services/postgres.sh halt`) while a table Mem0 wrote is being given its terms, and
//! comes back (`restart`, same data): the fill keeps retrying, never claims to be done while the
//! server is away, and completes afterwards with every row kept and given its terms.
//!
//! The database it stops is a private cluster (`pgstore::private_cluster`), never the shared one.

use crate::support::pgstore::mem0_layout::*;
use crate::support::pgstore::private_cluster::PrivateCluster;
use crate::support::pgstore::{raw_client, unique_collection};

use mem0_dify::ports::vector_store::VectorStore;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lexical_fill_cut_by_a_database_outage_resumes_when_it_returns() {
    let _alone = crate::alone().await;
    let Some(cluster) = PrivateCluster::start() else { return };
    let collection = unique_collection("lexoutage");
    let rows = worded_rows(ROWS);
    {
        let client = raw_client(&cluster.url).await;
        mem0_table(&client, &collection, "carol", &rows).await;
        let store = filling_store(&cluster.url, &collection, 50, 20);
        store.ensure_ready().await.unwrap();
        wait_until("a few chunks filled", Duration::from_secs(30), || async {
            unfilled(&client, &collection).await <= (ROWS - 200) as i64
        })
        .await;
        cluster.halt();
        // Long enough for failed chunks and their retries.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!store.keeps_lexical_index(), "done while the database is down");
        cluster.restart();
        wait_until("the fill completes after the outage", Duration::from_secs(120), || async {
            store.keeps_lexical_index()
        })
        .await;
    }
    let client = raw_client(&cluster.url).await;
    assert_eq!(unfilled(&client, &collection).await, 0);
    let total: i64 = client.query_one(&format!("SELECT count(*) FROM \"{collection}\""), &[]).await.unwrap().get(0);
    assert_eq!(total, ROWS as i64, "every memory kept");
}
