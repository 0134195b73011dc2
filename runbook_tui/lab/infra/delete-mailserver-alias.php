<?php
/*
 * delete-mailserver-alias.php
 *
 * Delete the `mailserver` host alias. Refuses while a NAT rule still targets it (pfSense's
 * WebUI refuses the same), so run the NAT flip first.
 */

require_once("config.inc");
require_once("filter.inc");

$ALIAS_NAME = 'mailserver';

foreach (config_get_path('nat/rule', []) as $rule) {
    if ($rule['target'] == $ALIAS_NAME) {
        echo "alias {$ALIAS_NAME} is still referenced by NAT rule '{$rule['descr']}'; not deleting\n";
        exit(1);
    }
}
$aliases = config_get_path('aliases/alias', []);
$kept = array_values(array_filter($aliases, function ($a) use ($ALIAS_NAME) {
    return $a['name'] != $ALIAS_NAME;
}));
if (count($kept) == count($aliases)) {
    echo "alias {$ALIAS_NAME} not present\n";
    exit(0);
}
config_set_path('aliases/alias', $kept);
write_config("Alias {$ALIAS_NAME} deleted");
filter_configure();
echo "alias {$ALIAS_NAME} deleted\n";
