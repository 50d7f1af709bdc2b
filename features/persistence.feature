Feature: Durability across restarts
  As the operator of the service
  I want the state and the log to survive a restart of the service
  So that a deployment or a crash loses nothing that was answered

  @restart
  Scenario: The state and the log survive a restart
    Given the service is running
    And the client has made these updates, oldest first:
      | counter | message             |
      | 77      | before restart      |
      | 78      | before restart      |
      | 78      | last before restart |
    When the service restarts
    Then the service is healthy again
    And the service's uptime counts from the restart
    And the status shows counter 78 and message "last before restart"
    And the log's newest entries set, newest first:
      | counter | message             |
      | 78      | last before restart |
      | 78      | before restart      |
      | 77      | before restart      |
    And the log's newest entries are those updates as they were answered, ids, times and previous states included
    And the log holds as many entries as it did before the restart
