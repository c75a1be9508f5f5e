/*
 * A single OpenSearch node for development and tests, started from jars on the class path instead of
 * an unpacked distribution: the Maven Central artifacts carry the server and its modules but not the
 * distribution layout, so the modules are handed to the node as class-path plugins.
 *
 *   java -cp 'lib/*:classes' WhenceEngine HOME HTTP_PORT TRANSPORT_PORT
 *
 * Data and logs live under HOME.  The node binds 127.0.0.1 only, forms a one-node cluster and runs
 * without the security plugin (none is on the class path).  SIGTERM closes it cleanly.
 */

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class WhenceEngine {
    /** Node's constructor that accepts class-path plugins is protected. */
    private static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    private WhenceEngine() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: WhenceEngine HOME HTTP_PORT TRANSPORT_PORT");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        // The plugin service scans these folders even when every plugin comes from the class path.
        for (String dir : List.of("config", "data", "logs", "modules", "plugins")) {
            Files.createDirectories(home.resolve(dir));
        }
        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "whence-dev")
            .put("node.name", "whence-dev-1")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", args[1])
            .put("transport.port", args[2])
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            // A shared development disk may be fuller than the default watermarks allow.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", false)
            .build();
        Environment environment =
            InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), home.resolve("config"), () -> "whence-dev-1");
        Node node = new EmbeddedNode(environment, List.of(Netty4Plugin.class, CommonAnalysisPlugin.class));
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "whence-engine-shutdown"));
        node.start();
        System.out.println("whence-engine: started on http://127.0.0.1:" + args[1]);
        closed.await();
    }
}
