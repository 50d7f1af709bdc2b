Feature: Durability across restarts
  As the operator of the service
  I want the state and the log to survive a restart of the service
  So that a deployment or a crash loses nothing that was answered

  @restart
  Scenario: The state and the log survive a restart
    Given the service is running
    And the state is counter 77 and message "before restart"
    And the client has made 3 updates
    When the service restarts
    Then the service is running
    And the service's uptime counts from the restart
    And the status shows the state the last update set
    And the log still holds those 3 updates, newest first
    And the log holds as many entries as it did before the restart
