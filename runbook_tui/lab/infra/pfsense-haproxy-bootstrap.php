<?php
/*
 * pfsense-haproxy-bootstrap.php
 *
 * Declares the mailserver HAProxy frontends and backend pools in pfSense's config.xml
 * (<installedpackages><haproxy>) and applies them. Source of truth for the pfSense side of
 * the mail edge: external mail -> pfSense HAProxy -> k8s NodePorts with PROXY v2.
 *
 * Usage:
 *   scp infra/scripts/pfsense-haproxy-bootstrap.php admin@10.0.20.1:/tmp/
 *   ssh admin@10.0.20.1 'php /tmp/pfsense-haproxy-bootstrap.php'
 *
 * Idempotent: every item named mailserver_* is replaced by the declared state below; other
 * HAProxy items are left alone. Expected output: haproxy_check_and_run rc=OK
 */

require_once("config.inc");
require_once("util.inc");
require_once("haproxy/haproxy.inc");
require_once("haproxy/haproxy_utils.inc");

// Kubernetes workers that can serve the NodePorts (ETP:Cluster: any node will do).
// k8s-master is deliberately absent: it runs no mail traffic.
$NODES = [
    'k8s-node1' => '10.0.20.101',
    'k8s-node2' => '10.0.20.102',
    'k8s-node3' => '10.0.20.103',
    'k8s-node4' => '10.0.20.104',
];

// TCP check every 2 minutes: each check makes postscreen log a getpeername warning.
$CHECK_INTER = 120000;

function build_pool($name, $nodeport, $nodes, $inter) {
    $servers = [];
    foreach ($nodes as $node => $ip) {
        $servers[] = [
            'name' => $node,
            'address' => $ip,
            'port' => $nodeport,
            'status' => 'active',
            'weight' => '1',
            'advanced' => 'send-proxy-v2',
        ];
    }
    return [
        'name' => $name,
        'check_type' => 'Basic',
        'checkinter' => $inter,
        'balance' => 'roundrobin',
        'advanced' => '',
        'ha_servers' => ['item' => $servers],
    ];
}

function build_frontend($name, $port, $pool, $descr) {
    return [
        'name' => $name,
        'descr' => $descr,
        'status' => 'active',
        'type' => 'tcp',
        'backend_serverpool' => $pool,
        'a_extaddr' => ['item' => [['extaddr' => '10.0.20.1', 'extaddr_port' => $port]]],
        'advanced' => '',
    ];
}

$pools = [
    build_pool('mailserver_smtp', 30125, $NODES, $CHECK_INTER),
    build_pool('mailserver_smtps', 30126, $NODES, $CHECK_INTER),
    build_pool('mailserver_submission', 30127, $NODES, $CHECK_INTER),
    build_pool('mailserver_imaps', 30128, $NODES, $CHECK_INTER),
];

$frontends = [
    build_frontend('mailserver_smtp', 25, 'mailserver_smtp', 'Mail smtp (PROXY v2)'),
    build_frontend('mailserver_smtps', 465, 'mailserver_smtps', 'Mail smtps (PROXY v2)'),
    build_frontend('mailserver_submission', 587, 'mailserver_submission', 'Mail submission (PROXY v2)'),
    build_frontend('mailserver_imaps', 993, 'mailserver_imaps', 'Mail imaps (PROXY v2)'),
    build_frontend('mailserver_test_2525', 2525, 'mailserver_smtp', 'Test port for smtp'),
];

function replace_mailserver_items($existing, $declared) {
    $kept = [];
    foreach ((array)$existing as $item) {
        if (strpos($item['name'], 'mailserver_') !== 0) {
            $kept[] = $item;
        }
    }
    return array_merge($kept, $declared);
}

$haproxy = config_get_path('installedpackages/haproxy', []);
$haproxy['enable'] = 'yes';
$haproxy['ha_pools']['item'] = replace_mailserver_items($haproxy['ha_pools']['item'] ?? [], $pools);
$haproxy['ha_backends']['item'] = replace_mailserver_items($haproxy['ha_backends']['item'] ?? [], $frontends);
config_set_path('installedpackages/haproxy', $haproxy);
write_config("pfsense-haproxy-bootstrap.php: mailserver frontends + backends");

$messages = '';
$ok = haproxy_check_and_run($messages, true);
echo "haproxy_check_and_run rc=" . ($ok ? "OK" : "FAILED") . "\n";
if (!$ok) {
    echo $messages . "\n";
    exit(1);
}
