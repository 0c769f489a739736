import java.nio.file.Path;
import java.util.Map;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.driver.Session;

/**
 * Embedded Neo4j community server for tests: Bolt on HOST:PORT, user neo4j with a fixed password.
 * Usage: Neo4jLauncher HOME_DIR HOST PORT PASSWORD. Prints "READY" once a Bolt client has run
 * RETURN 1 against it; shuts down cleanly on SIGTERM (or right away with
 * -Dmem0.neo4j.exitAfterReady=true, used to record a class-data-sharing archive).
 */
public final class Neo4jLauncher {
  public static void main(String[] args) throws Exception {
    Path home = Path.of(args[0]);
    String host = args[1];
    int port = Integer.parseInt(args[2]);
    String password = args[3];
    DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
        .setConfig(BoltConnector.enabled, true)
        .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
        .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
        .setConfig(GraphDatabaseSettings.auth_enabled, true)
        .setConfig(GraphDatabaseSettings.pagecache_memory, 64L * 1024 * 1024)
        .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
        .build();
    Thread hook = new Thread(dbms::shutdown, "neo4j-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      dbms.database("system").executeTransactionally(
          "ALTER USER neo4j SET PASSWORD $p CHANGE NOT REQUIRED", Map.of("p", password));
    } catch (RuntimeException e) { // kept data from a restart: password already set
      if (!String.valueOf(e.getMessage()).contains("cannot be the same")) throw e;
    }
    dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).executeTransactionally("RETURN 1");
    try (Driver driver = GraphDatabase.driver("bolt://" + host + ":" + port,
            AuthTokens.basic("neo4j", password));
        Session session = driver.session()) {
      int one = session.run("RETURN 1 AS x").single().get("x").asInt();
      if (one != 1) throw new IllegalStateException("Bolt self-check returned " + one);
    }
    System.out.println("READY bolt://" + host + ":" + port);
    System.out.flush();
    if (Boolean.getBoolean("mem0.neo4j.exitAfterReady")) { // training run for the CDS archive
      Runtime.getRuntime().removeShutdownHook(hook);
      dbms.shutdown();
      System.exit(0);
    }
    Thread.currentThread().join(); // until SIGTERM runs the shutdown hook
  }
}
