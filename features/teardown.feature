Feature: Nothing left behind
  As the engineer who must show that a deployment leaves nothing running
  I want every deployment the harness starts to be removed when it is torn down
  So that a test run never leaves a container, a volume or a network behind

  @teardown
  Scenario: A torn-down deployment leaves nothing that carries its run id
    Given a throw-away deployment of the kind under test, with a run id of its own
    When the deployment is torn down
    Then its run id is not the one of the deployment under test
    And while it ran, what it created carried its run id
    And nothing that carries its run id remains
